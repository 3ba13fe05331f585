package dev.fulcrum.tools.bench;

/** One load level: N requests always outstanding (closed loop) or R sends per second (open). */
sealed interface Load {
  String label();

  /** Closed loop: each of N virtual clients sends again as soon as its response arrives. */
  record Closed(int concurrency) implements Load {
    @Override
    public String label() {
      return "c=" + concurrency;
    }
  }

  /** Open loop: sends follow a schedule whether or not earlier requests have come back. */
  record Open(double rate, ArrivalSchedule.Distribution distribution) implements Load {
    @Override
    public String label() {
      String r = rate == Math.rint(rate) ? Long.toString((long) rate) : String.format("%.1f", rate);
      return "r=" + r + (distribution == ArrivalSchedule.Distribution.POISSON ? "~p" : "");
    }
  }
}
