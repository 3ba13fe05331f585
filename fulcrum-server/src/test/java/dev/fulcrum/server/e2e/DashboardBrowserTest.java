package dev.fulcrum.server.e2e;

import static dev.fulcrum.server.e2e.E2eServer.inferPath;
import static org.assertj.core.api.Assertions.assertThat;

import dev.fulcrum.server.Await;
import dev.fulcrum.server.HttpServerConfig;
import dev.fulcrum.server.dashboard.DashboardFeed;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Scope;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.testkit.TestModels;
import dev.fulcrum.testkit.browser.HeadlessBrowser;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;

/**
 * The dashboard in Debian's headless Chromium against a real server with two models under load: the
 * page loads without script errors, shows every panel for each model version, its numbers change
 * while load runs and frames keep arriving about once a second. A screenshot is written to {@code
 * target/dashboard/dashboard.png} for a person to look at.
 */
class DashboardBrowserTest {
  private static final String ADD_SUB = TestModels.ADD_SUB_INT32;
  private static final String MIXED = TestModels.MULTI_IO_MIXED;
  private static final List<String> PANELS =
      List.of(
          "throughput",
          "latency",
          "queue-compute",
          "errors",
          "instances",
          "batch",
          "slo",
          "drift",
          "lifecycle",
          "pending");

  @TempDir Path repo;

  @Test
  void showsEveryPanelOfEachModelAndItsNumbersMoveUnderLoad() throws Exception {
    HeadlessBrowser.assumeAvailable();
    TestModels.writeModel(repo, ADD_SUB);
    TestModels.writeModel(repo, MIXED);
    Files.writeString(
        repo.resolve(ADD_SUB).resolve("config.yaml"),
        "max-batch-size: 8\ninstance-count: 2\nslo:\n  latency-ms: 1000\n");
    try (E2eServer server = E2eServer.startWithDashboard(repo, HttpServerConfig.ephemeral())) {
      Load load = new Load(server);
      try (HeadlessBrowser browser = HeadlessBrowser.start()) {
        check(server, browser);
        linksAndIdle(browser, load);
      } finally {
        load.stop();
      }
    }
  }

  /**
   * The summary links each model to its section; once the load stops the "now" figures say idle
   * rather than the last values the model ever had, and the model joins the summary's idle line.
   */
  private static void linksAndIdle(HeadlessBrowser browser, Load load) throws Exception {
    String section =
        String.valueOf(
            browser.script(
                "return document.querySelector('section.model[data-key=\"' + arguments[0]"
                    + " + '/1\"]').id;",
                MIXED));
    browser.driver().findElement(By.cssSelector("#summary a[href=\"#" + section + "\"]")).click();
    assertThat(String.valueOf(browser.script("return location.hash;"))).isEqualTo("#" + section);

    load.stop();
    Await.until(
        "the latency of an idle model says idle, not its last p99",
        () -> nowText(browser, ADD_SUB, "latency").startsWith("idle"));
    assertThat(nowText(browser, ADD_SUB, "queue-compute")).startsWith("idle");
    assertThat(nowText(browser, ADD_SUB, "batch")).startsWith("mean ");
    Await.until(
        "both models on the summary's idle line",
        () -> {
          Object idle =
              browser.script(
                  "var q = document.querySelector('#summary .item.quiet');"
                      + " return q ? q.textContent : '';");
          return String.valueOf(idle).contains(ADD_SUB) && String.valueOf(idle).contains(MIXED);
        });
    assertThat(browser.severeConsoleMessages()).isEmpty();
  }

  /**
   * With {@link DashboardFeed#MAX_SUBSCRIBERS} streams open, a page says why it gets no data (the
   * server's 503 reason) instead of "reconnecting…" alone, and connects once a slot frees.
   */
  @Test
  void aPageBeyondTheCapSaysWhyAndConnectsWhenASlotFrees() throws Exception {
    HeadlessBrowser.assumeAvailable();
    TestModels.writeModel(repo, MIXED);
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<InputStream> streams = new ArrayList<>();
    try (E2eServer server = E2eServer.startWithDashboard(repo, HttpServerConfig.ephemeral());
        HeadlessBrowser browser = HeadlessBrowser.start()) {
      for (int i = 0; i < DashboardFeed.MAX_SUBSCRIBERS; i++) {
        HttpResponse<InputStream> r =
            client.send(
                HttpRequest.newBuilder(URI.create(server.base() + "/dashboard/events")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        streams.add(r.body());
      }
      browser.open(URI.create(server.base() + "/dashboard"));
      Await.until(
          "the page shows the server's reason",
          () -> notice(browser).contains("too many dashboard pages open"));
      assertThat(frames(browser)).isZero();
      streams.remove(0).close();
      Await.until("the page connects once a slot is free", () -> frames(browser) >= 1);
      Await.until("the notice goes", () -> notice(browser).isEmpty());
      assertThat(browser.severeConsoleMessages())
          .as("only the refused tries")
          .allSatisfy(m -> assertThat(m).contains("503"));
    } finally {
      for (InputStream in : streams) {
        in.close();
      }
    }
  }

  /**
   * A server with many models (a density audit served hundreds; the page drew every section's ten
   * panels each second, kept a browser core busy and fell behind): the page draws only the sections
   * on screen, draws one once it is scrolled to, names at most {@code SUMMARY_MAX} (20) busy models
   * in the summary and counts the rest, and its filter box narrows the sections and the summary to
   * the models whose name matches.
   */
  @Test
  void withManyModelsItDrawsTheSectionsInViewAndTheFilterFindsOne() throws Exception {
    HeadlessBrowser.assumeAvailable();
    Path model = TestModels.writeModel(repo, ADD_SUB);
    List<String> names = new ArrayList<>(List.of(ADD_SUB));
    for (int i = 0; i < 23; i++) {
      String name = String.format("copy_%02d", i);
      Path dir = repo.resolve(name).resolve(TestModels.VERSION);
      Files.createDirectories(dir);
      Files.copy(model, dir.resolve(TestModels.MODEL_FILENAME));
      names.add(name);
    }
    String row = "[" + "1,".repeat(15) + "1]";
    String body =
        """
        {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":%s},
                   {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":%s}]}"""
            .formatted(row, row);
    AtomicBoolean running = new AtomicBoolean(true);
    try (E2eServer server = E2eServer.startWithDashboard(repo, HttpServerConfig.ephemeral());
        HeadlessBrowser browser = HeadlessBrowser.start()) {
      // A request to every model about every second: none is idle, so each earns a summary line.
      Thread load =
          Thread.ofPlatform()
              .daemon(true)
              .start(
                  () -> {
                    while (running.get()) {
                      for (String name : names) {
                        try {
                          server.post(inferPath(name), body);
                          Thread.sleep(40);
                        } catch (Exception e) {
                          return;
                        }
                      }
                    }
                  });
      try {
        browser.open(URI.create(server.base() + "/dashboard"));
        Await.until("frames arrived", () -> frames(browser) >= 2);
        Await.until("the first section is drawn", () -> canvases(browser, ADD_SUB) > 0);
        String lastName = names.get(names.size() - 1);
        assertThat(canvases(browser, lastName)).as("a section far below the screen").isZero();
        assertThat(nowText(browser, lastName, "throughput")).isEqualTo("–");

        Await.until(
            "the summary names 20 models and counts the rest",
            () -> {
              Object n =
                  browser.script(
                      "return document.querySelectorAll('#summary .item:not(.quiet):not(.more)')"
                          + ".length;");
              return n instanceof Number x
                  && x.intValue() == 20
                  && summaryText(browser).contains("+ 4 more");
            },
            () -> summaryText(browser));

        browser.script(
            "document.querySelector('section.model[data-key=\"' + arguments[0] + '/1\"]')"
                + ".scrollIntoView();",
            lastName);
        Await.until("a section scrolled to is drawn", () -> canvases(browser, lastName) > 0);
        browser.script("window.scrollTo(0, 0);");

        browser.driver().findElement(By.id("filter")).sendKeys("copy_07");
        @SuppressWarnings("unchecked")
        List<String> shown =
            (List<String>)
                browser.script(
                    "return Array.from(document.querySelectorAll('section.model'))"
                        + ".filter(function (s) { return !s.hidden; })"
                        + ".map(function (s) { return s.dataset.key; });");
        assertThat(shown).containsExactly("copy_07/1");
        assertThat(summaryText(browser)).contains("copy_07").doesNotContain("copy_08");
        Await.until("the model found is drawn", () -> canvases(browser, "copy_07") > 0);
        assertThat(browser.severeConsoleMessages()).isEmpty();
      } finally {
        running.set(false);
        load.join(10_000);
      }
    }
  }

  /**
   * A page opened on a server whose model sat idle gets the idle run once in its first frame
   * ({@code same}) and fills it back in: it holds as many of the model's samples as the server
   * strip's, as when every sample was sent.
   */
  @Test
  void aPageOpenedLateFillsInAnIdleModelsHistory() throws Exception {
    HeadlessBrowser.assumeAvailable();
    TestModels.writeModel(repo, ADD_SUB);
    try (E2eServer server = E2eServer.startWithDashboard(repo, HttpServerConfig.ephemeral());
        HeadlessBrowser browser = HeadlessBrowser.start()) {
      browser.open(URI.create(server.base() + "/dashboard"));
      Await.until("six frames", () -> frames(browser) >= 6);
      browser.open(URI.create(server.base() + "/dashboard")); // a new page: a new history frame
      Await.until("a frame", () -> frames(browser) >= 1);
      Object held =
          browser.script(
              "return [window.fulcrumDashboard.samples(arguments[0] + '/1'),"
                  + " document.querySelectorAll('section.model').length];",
              ADD_SUB);
      assertThat(String.valueOf(held)).doesNotStartWith("[0,").doesNotStartWith("[1,");
      Await.until(
          "the model's samples match the server strip's",
          () -> {
            Object ok =
                browser.script(
                    "var d = window.fulcrumDashboard; return d.samples(arguments[0] + '/1') >= 6;",
                    ADD_SUB);
            return Boolean.TRUE.equals(ok);
          });
      assertThat(browser.severeConsoleMessages()).isEmpty();
    }
  }

  private static long canvases(HeadlessBrowser browser, String model) {
    Object n =
        browser.script(
            "return document.querySelectorAll('section.model[data-key=\"' + arguments[0]"
                + " + '/1\"] canvas').length;",
            model);
    return n instanceof Number x ? x.longValue() : 0;
  }

  private static String summaryText(HeadlessBrowser browser) {
    return String.valueOf(browser.script("return document.getElementById('summary').textContent;"));
  }

  private static String notice(HeadlessBrowser browser) {
    Object t =
        browser.script(
            "var n = document.getElementById('notice'); return n.hidden ? '' : n.textContent;");
    return String.valueOf(t);
  }

  private static void check(E2eServer server, HeadlessBrowser browser) throws Exception {
    {
      browser.open(URI.create(server.base() + "/dashboard"));
      Await.until("two frames arrived", () -> frames(browser) >= 2);

      for (String model : List.of(ADD_SUB, MIXED)) {
        @SuppressWarnings("unchecked")
        List<String> shown =
            (List<String>)
                browser.script(
                    "return Array.from(document.querySelectorAll("
                        + "'section.model[data-key=\"' + arguments[0] + '/1\"] [data-panel]'))"
                        + ".map(function (p) { return p.dataset.panel; });",
                    model);
        assertThat(shown).as("panels of %s", model).containsExactlyElementsOf(PANELS);
      }

      String before = nowText(browser, ADD_SUB, "throughput");
      Await.until(
          "the throughput of " + ADD_SUB + " shows traffic and changes",
          () -> {
            String now = nowText(browser, ADD_SUB, "throughput");
            return !now.equals(before) && !now.startsWith("req/s 0.00");
          });
      Await.until(
          "the latency of " + ADD_SUB + " shows a p99",
          () -> !nowText(browser, ADD_SUB, "latency").contains("p99 –"));
      String latency = nowText(browser, ADD_SUB, "latency");
      Await.until(
          "the latency numbers change",
          () -> !nowText(browser, ADD_SUB, "latency").equals(latency));

      // Refresh: frames keep coming once a second, and each is on screen soon after the server
      // made it (the page records the gap between the frame's time and its drawing).
      long frames = frames(browser);
      Await.until("three more frames", () -> frames(browser) >= frames + 3);
      @SuppressWarnings("unchecked")
      List<Long> lags =
          (List<Long>) browser.script("return window.fulcrumDashboard.lags.slice(-5);");
      List<Long> sorted = new ArrayList<>(Objects.requireNonNull(lags));
      sorted.sort(null);
      long median = sorted.get(sorted.size() / 2);
      System.out.println("dashboard: frame-to-screen lag (ms), last 5 frames: " + lags);
      assertThat(median).as("median frame-to-screen lag, ms").isLessThan(1000);

      capacity(browser);
      assertThat(nowText(browser, MIXED, "slo")).isEqualTo("not configured");
      assertThat(nowText(browser, ADD_SUB, "drift")).isEqualTo("not configured");
      assertThat(nowText(browser, ADD_SUB, "instances")).startsWith("2 instances");
      Path shot = browser.screenshot(Path.of("target", "dashboard", "dashboard.png"));
      System.out.println("dashboard: screenshot " + shot.toAbsolutePath());
      assertThat(browser.severeConsoleMessages()).isEmpty();
    }
  }

  /**
   * The model with an objective shows its attainment and load ratio, the capacity it states (once
   * its policy measured 100 passes) with the bound that applied and the CPU budget, and plots the
   * load ratio beside attainment.
   */
  private static void capacity(HeadlessBrowser browser) throws Exception {
    Await.until(
        "the SLO panel of " + ADD_SUB + " states a capacity and a load",
        () -> {
          String now = nowText(browser, ADD_SUB, "slo");
          return now.startsWith("attainment ")
              && now.matches(".* · load [0-9.]+$")
              && panelText(browser, ADD_SUB, "slo")
                  .matches("(?s).*capacity[0-9.kM]+ req/s · bound (passes|cpu).*");
        },
        () -> nowText(browser, ADD_SUB, "slo") + " | " + panelText(browser, ADD_SUB, "slo"));
    assertThat(panelText(browser, ADD_SUB, "slo"))
        .containsPattern("CPU budget[0-9.]+ of [0-9.]+ cores");
    Await.until(
        "the load ratio and attainment are plotted",
        () -> {
          Object n =
              browser.script(
                  "return document.querySelectorAll('section.model[data-key=\"' + arguments[0]"
                      + " + '/1\"] [data-panel=\"slo\"] canvas').length;",
                  ADD_SUB);
          return n instanceof Number x && x.intValue() > 0;
        });
  }

  private static String panelText(HeadlessBrowser browser, String model, String panel) {
    Object t =
        browser.script(
            "var e = document.querySelector('section.model[data-key=\"' + arguments[0]"
                + " + '/1\"] [data-panel=\"' + arguments[1] + '\"] .body');"
                + " return e ? e.textContent : '';",
            model,
            panel);
    return String.valueOf(t);
  }

  @Test
  void withATokenConfiguredThePageAsksForItAndSendsItInAHeader() throws Exception {
    HeadlessBrowser.assumeAvailable();
    TestModels.writeModel(repo, MIXED);
    String token = "inference-token-0123456789abcdef";
    AccessPolicy access =
        new AccessPolicy(
            List.of(new AccessPolicy.Token(Scope.INFERENCE, token)), "127.0.0.1", false);
    HttpServerConfig config =
        new HttpServerConfig(
            "127.0.0.1",
            0,
            HttpServerConfig.DEFAULT_MAX_INPUT_SIZE,
            0,
            HttpServerConfig.Limits.defaults(),
            new Security(access, Optional.empty()));
    try (E2eServer server = E2eServer.startWithDashboard(repo, config);
        HeadlessBrowser browser = HeadlessBrowser.start()) {
      browser.open(URI.create(server.base() + "/dashboard"));
      Await.until(
          "the page asks for a token",
          () ->
              Boolean.TRUE.equals(
                  browser.script("return !document.getElementById('token-form').hidden;")));
      assertThat(frames(browser)).isZero();
      browser.driver().findElement(By.id("token")).sendKeys(token);
      browser.driver().findElement(By.cssSelector("#token-form button")).click();
      Await.until("frames arrive with the token", () -> frames(browser) >= 2);
      assertThat(nowText(browser, MIXED, "lifecycle")).startsWith("READY");
      assertThat(String.valueOf(browser.script("return location.href;"))).doesNotContain(token);
      List<String> severe = browser.severeConsoleMessages();
      assertThat(severe)
          .as("only the refused first try")
          .allSatisfy(m -> assertThat(m).contains("401"));
      assertThat(String.join("\n", severe)).doesNotContain(token);
    }
  }

  private static long frames(HeadlessBrowser browser) {
    Object n =
        browser.script("return window.fulcrumDashboard ? window.fulcrumDashboard.frames : 0;");
    return n instanceof Number x ? x.longValue() : 0;
  }

  private static String nowText(HeadlessBrowser browser, String model, String panel) {
    Object t =
        browser.script(
            "var e = document.querySelector('section.model[data-key=\"' + arguments[0]"
                + " + '/1\"] [data-panel=\"' + arguments[1] + '\"] .now');"
                + " return e ? e.textContent : '';",
            model,
            panel);
    return String.valueOf(t);
  }

  /** Requests to both models from two client threads until closed (a few in flight at once). */
  private static final class Load {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Thread> threads = new ArrayList<>();

    Load(E2eServer server) {
      String row = "[" + "1,".repeat(15) + "1]";
      String addSub =
          """
          {"inputs":[{"name":"INPUT0","shape":[1,16],"datatype":"INT32","data":%s},
                     {"name":"INPUT1","shape":[1,16],"datatype":"INT32","data":%s}]}"""
              .formatted(row, row);
      String mixed =
          """
          {"inputs":[{"name":"INPUT0","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]},
                     {"name":"INPUT1","shape":[1,4],"datatype":"INT64","data":[1,2,3,4]}]}""";
      for (String[] target : new String[][] {{ADD_SUB, addSub}, {MIXED, mixed}}) {
        Thread t =
            Thread.ofPlatform()
                .name("dashboard-load-" + target[0])
                .daemon(true)
                .start(() -> drive(server, target[0], target[1]));
        threads.add(t);
      }
    }

    private void drive(E2eServer server, String model, String body) {
      Semaphore inFlight = new Semaphore(4);
      while (running.get()) {
        try {
          inFlight.acquire();
          CompletableFuture<HttpResponse<byte[]>> f =
              server.sendAsync(server.jsonRequest(inferPath(model), body));
          f.whenComplete((r, e) -> inFlight.release());
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    void stop() throws InterruptedException {
      running.set(false);
      for (Thread t : threads) {
        t.join(10_000);
      }
    }
  }
}
