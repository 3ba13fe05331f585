package dev.fulcrum.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fulcrum.core.InferenceService;
import dev.fulcrum.core.config.ModelConfigResolver;
import dev.fulcrum.core.repository.ControlMode;
import dev.fulcrum.core.repository.ModelRepository;
import dev.fulcrum.core.scheduler.SchedulerEnvironment;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.dashboard.DashboardSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The feed follows the control plane: a version that loads gets a history, one that unloads loses
 * it (its memory goes) and shows only its state.
 */
class DashboardHistoryTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path root;

  /** The frames a page received, newest last. */
  private static final class Page implements DashboardFeed.Subscriber {
    final List<JsonNode> frames = new CopyOnWriteArrayList<>();

    @Override
    public boolean send(byte[] frame) {
      try {
        frames.add(JSON.readTree(frame));
      } catch (IOException e) {
        throw new AssertionError(e);
      }
      return true;
    }

    @Override
    public void end() {}

    JsonNode row(String model) {
      JsonNode last = frames.getLast();
      for (JsonNode m : last.get("models")) {
        if (m.get("model").asText().equals(model)) {
          return m;
        }
      }
      return JSON.nullNode();
    }
  }

  @Test
  void anUnloadedVersionLosesItsHistory() throws Exception {
    DashboardFeed feed = new DashboardFeed();
    try (SchedulerEnvironment environment = SchedulerEnvironment.system(feed);
        ModelRepository repo = boundRepository(feed, environment)) {
      InferenceService service = new InferenceService(repo, false);
      service.load("simple", null).get(60, TimeUnit.SECONDS);
      Page page = new Page();
      feed.subscribe(page);
      feed.start();
      Await.until("a frame with the history of simple", () -> hasSeries(page, "simple"));
      assertThat(feed.versionsWithHistory()).isEqualTo(1);
      assertThat(page.row("simple").get("events").toString()).contains("READY");

      service.unload("simple").get(60, TimeUnit.SECONDS);
      Await.until(
          "simple shows as unloaded, without series",
          () -> !page.frames.isEmpty() && !hasSeries(page, "simple"));
      assertThat(feed.versionsWithHistory()).isZero();
      feed.close();
    }
  }

  @Test
  void eachVersionShowsItsOwnLifecycleEvents() throws Exception {
    DashboardFeed feed = new DashboardFeed();
    try (SchedulerEnvironment environment = SchedulerEnvironment.system(feed);
        ModelRepository repo = boundRepository(feed, environment)) {
      InferenceService service = new InferenceService(repo, false);
      service.load("versioned", null).get(60, TimeUnit.SECONDS);
      Page page = new Page();
      feed.subscribe(page);
      feed.start();
      Await.until(
          "both versions with their load",
          () ->
              events(page, "versioned", "1").contains("loaded in")
                  && events(page, "versioned", "2").contains("loaded in"));
      // The log was the model's: version 2's panel showed version 1's lines, and the reverse.
      assertThat(events(page, "versioned", "1")).contains("v1 ").doesNotContain("v2 ");
      assertThat(events(page, "versioned", "2")).contains("v2 ").doesNotContain("v1 ");
      feed.close();
    }
  }

  /**
   * A tick frame repeats a version's drift panel only when it changed (with monitoring it was two
   * thirds of each tick, and most versions of a server with many models are idle): the history
   * frame carries it, ticks leave it out while it stays the same, and the next tick after a change
   * carries the new one.
   */
  @Test
  void aTickSendsTheDriftPanelOnlyWhenItChanged() throws Exception {
    DashboardFeed feed = new DashboardFeed();
    AtomicReference<Double> score = new AtomicReference<>(0.123);
    feed.source(
        (model, version) ->
            new DashboardSource.Extras(
                null,
                new DashboardSource.Drift(
                    List.of(
                        new DashboardSource.FeatureDrift(
                            "amount", "ok", score.get(), 1.0, false)))));
    try (SchedulerEnvironment environment = SchedulerEnvironment.system(feed);
        ModelRepository repo = boundRepository(feed, environment)) {
      new InferenceService(repo, false).load("simple", null).get(60, TimeUnit.SECONDS);
      Page page = new Page();
      feed.subscribe(page);
      feed.start();
      Await.until("three ticks after the history", () -> page.frames.size() >= 4);
      assertThat(page.frames.getFirst().get("kind").asText()).isEqualTo("history");
      assertThat(page.frames.getFirst().toString()).contains("\"amount\"");
      assertThat(page.row("simple").has("drift")).as("an unchanged drift panel").isFalse();
      assertThat(page.row("simple").has("series")).isTrue();

      score.set(0.789);
      Await.until(
          "the next tick carries the changed panel",
          () -> page.frames.stream().anyMatch(f -> f.toString().contains("\"score\":0.789")));
      int changed = page.frames.size();
      Await.until("a tick after it", () -> page.frames.size() > changed);
      assertThat(page.row("simple").has("drift")).as("unchanged again").isFalse();
      feed.close();
    }
  }

  /**
   * A history frame sends a run of samples equal to a version's newest once, with {@code same}
   * counting the samples it stands for (at the server strip's times before the newest): an idle
   * version's five minutes of zero rates and empty latencies were ~28 KB of a first frame, 8 MB at
   * 300 mostly idle models. A version whose samples differ is sent sample by sample as before.
   */
  @Test
  void aHistoryFrameSendsAnIdleRunOnce() throws Exception {
    DashboardFeed feed = new DashboardFeed();
    try (SchedulerEnvironment environment = SchedulerEnvironment.system(feed);
        ModelRepository repo = boundRepository(feed, environment)) {
      new InferenceService(repo, false).load("simple", null).get(60, TimeUnit.SECONDS);
      Page first = new Page();
      feed.subscribe(first);
      feed.start();
      Await.until("six ticks", () -> first.frames.size() >= 6);
      Page late = new Page();
      feed.subscribe(late);
      Await.until("the late page's history", () -> !late.frames.isEmpty());
      JsonNode history = late.frames.getFirst();
      assertThat(history.get("kind").asText()).isEqualTo("history");
      JsonNode series = late.row("simple").get("series");
      int sent = series.get("t").size();
      assertThat(series.get("same").asInt()).isGreaterThanOrEqualTo(3);
      assertThat(sent + series.get("same").asInt())
          .isLessThanOrEqualTo(history.get("server").get("t").size());
      for (String column : List.of("rps", "p99", "pending", "batch")) {
        assertThat(series.get(column).size()).as(column).isEqualTo(sent);
      }
      // The newest sample is always sent, at the server's newest time.
      JsonNode times = history.get("server").get("t");
      assertThat(series.get("t").get(sent - 1).asLong())
          .isEqualTo(times.get(times.size() - 1).asLong());
      // Ticks carry one sample, never "same".
      Await.until("a tick after it", () -> late.frames.size() >= 2);
      assertThat(late.row("simple").get("series").has("same")).isFalse();
      assertThat(late.row("simple").get("series").get("t").size()).isEqualTo(1);
      feed.close();
    }
  }

  /** The test models in explicit mode, loaded, with {@code feed} listening and bound. */
  private ModelRepository boundRepository(DashboardFeed feed, SchedulerEnvironment environment)
      throws Exception {
    ModelRepository repo =
        new ModelRepository(
            List.of(TestModels.write(root)),
            List.of(new FakeRuntime()),
            new ModelConfigResolver(2, 8),
            environment,
            ModelRepository.Settings.defaults().withMode(ControlMode.EXPLICIT));
    try {
      repo.manager().addListener(feed);
      feed.bind(repo);
      repo.loadAll();
      return repo;
    } catch (Exception | Error e) {
      repo.close();
      throw e;
    }
  }

  private static String events(Page page, String model, String version) {
    if (page.frames.isEmpty()) {
      return "";
    }
    for (JsonNode m : page.frames.getLast().get("models")) {
      if (m.get("model").asText().equals(model) && m.get("version").asText().equals(version)) {
        return m.get("events").toString();
      }
    }
    return "";
  }

  private static boolean hasSeries(Page page, String model) {
    return !page.frames.isEmpty() && page.row(model).has("series");
  }
}
