package dev.fulcrum.server;

import org.jspecify.annotations.Nullable;

/**
 * A request's W3C trace context: its {@code traceparent} parsed, and its {@code tracestate} as
 * sent. Parsed once when the request arrives (REST: its headers; gRPC: the call's metadata, once
 * for every request of a stream), for tracing (the request's parent span) and the slow-request log
 * (its line's trace id) alike. Immutable.
 *
 * @param traceId the trace id: 32 lower-case hex digits, not all zeros
 * @param parentId the caller's span id: 16 lower-case hex digits, not all zeros
 * @param flags the trace flags (bit 0: the caller sampled it)
 * @param state the {@code tracestate} header as sent, or null; parsed by tracing only
 */
public record TraceParent(String traceId, String parentId, byte flags, @Nullable String state) {

  /** Whether the caller sampled the trace (its flags' bit 0). */
  public boolean sampled() {
    return (flags & 1) != 0;
  }

  /**
   * Parses a W3C {@code traceparent} ({@code version-traceid-parentid-flags}, lower-case hex;
   * version {@code ff} and all-zero ids invalid; version 00 has exactly four fields, a later one
   * may add more after a dash).
   *
   * @param tracestate kept as sent with a valid traceparent
   * @return the context, or null when there is none or it does not parse (no parent: W3C says to
   *     start a new trace)
   */
  public static @Nullable TraceParent parse(
      @Nullable String traceparent, @Nullable String tracestate) {
    if (traceparent == null) {
      return null;
    }
    String t = traceparent.trim();
    if (t.length() < 55 || t.charAt(2) != '-' || t.charAt(35) != '-' || t.charAt(52) != '-') {
      return null;
    }
    if (t.startsWith("ff")
        || !hex(t, 0, 2)
        || !hex(t, 3, 35)
        || !hex(t, 36, 52)
        || !hex(t, 53, 55)) {
      return null;
    }
    if (t.length() > 55 && (t.startsWith("00") || t.charAt(55) != '-')) {
      return null;
    }
    String traceId = t.substring(3, 35);
    String parentId = t.substring(36, 52);
    if (zeros(traceId) || zeros(parentId)) {
      return null;
    }
    byte flags = (byte) Integer.parseInt(t, 53, 55, 16);
    return new TraceParent(traceId, parentId, flags, tracestate);
  }

  private static boolean hex(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  private static boolean zeros(String id) {
    for (int i = 0; i < id.length(); i++) {
      if (id.charAt(i) != '0') {
        return false;
      }
    }
    return true;
  }
}
