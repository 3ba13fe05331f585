package dev.fulcrum.testkit.browser;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Level;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

/**
 * Debian's headless Chromium, driven by Selenium through Debian's chromedriver (never a downloaded
 * browser or driver), for tests of the pages Fulcrum serves: open a page, read its script errors,
 * run a script, save a screenshot. Confined to the test thread that started it.
 *
 * <p>Tests call {@link #assumeAvailable()} first: without the Debian packages the test is skipped,
 * unless {@code FULCRUM_REQUIRE_BROWSER=1} (set by {@code .ci/run}, which installs them), where it
 * fails instead, so CI never skips a browser test silently.
 */
public final class HeadlessBrowser implements AutoCloseable {

  private static final Path CHROMIUM = Path.of(env("FULCRUM_CHROMIUM", "/usr/bin/chromium"));
  private static final Path CHROMEDRIVER =
      Path.of(env("FULCRUM_CHROMEDRIVER", "/usr/bin/chromedriver"));

  private final ChromeDriver driver;
  private final Path profile;

  private HeadlessBrowser(ChromeDriver driver, Path profile) {
    this.driver = driver;
    this.profile = profile;
  }

  /** True when Debian's chromium and chromedriver are installed. */
  public static boolean available() {
    return Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
  }

  /**
   * Skips the calling test (JUnit's assumption) when no browser is installed, or fails it when
   * {@code FULCRUM_REQUIRE_BROWSER=1}.
   */
  public static void assumeAvailable() {
    if (available()) {
      return;
    }
    String message = "no headless browser: install Debian's chromium and chromium-driver";
    if ("1".equals(System.getenv("FULCRUM_REQUIRE_BROWSER"))) {
      throw new AssertionError(message);
    }
    org.junit.jupiter.api.Assumptions.abort(message);
  }

  /** Starts a fresh browser with an empty profile, 1280×900, console messages recorded. */
  public static HeadlessBrowser start() {
    Path profile;
    try {
      profile = Files.createTempDirectory("fulcrum-chromium");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    // The flags a closed network needs: no background fetches, no component updates, no QUIC.
    options.addArguments(
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--window-size=1280,900",
        "--user-data-dir=" + profile);
    LoggingPreferences logs = new LoggingPreferences();
    logs.enable(LogType.BROWSER, Level.ALL);
    options.setCapability("goog:loggingPrefs", logs);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(new File(CHROMEDRIVER.toString()))
            .usingAnyFreePort()
            .build();
    ChromeDriver driver = new ChromeDriver(service, options);
    driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30));
    driver.manage().timeouts().scriptTimeout(Duration.ofSeconds(30));
    return new HeadlessBrowser(driver, profile);
  }

  /** The Selenium driver, for finding elements and waiting. */
  public WebDriver driver() {
    return driver;
  }

  /** Opens a page and waits for its load event. */
  public void open(URI page) {
    driver.get(page.toString());
  }

  /** Runs a script in the page and returns what it returns (Selenium's conversions). */
  public @org.jspecify.annotations.Nullable Object script(String javascript, Object... args) {
    return ((JavascriptExecutor) driver).executeScript(javascript, args);
  }

  /**
   * The console's SEVERE entries since the last call: uncaught exceptions, failed loads of the
   * page's own resources, {@code console.error}.
   */
  public List<String> severeConsoleMessages() {
    List<String> severe = new ArrayList<>();
    for (LogEntry entry : driver.manage().logs().get(LogType.BROWSER)) {
      if (entry.getLevel().intValue() >= Level.SEVERE.intValue()) {
        severe.add(entry.getMessage());
      }
    }
    return severe;
  }

  /** Writes a PNG of the window to {@code file} (its folder is created) and returns the file. */
  public Path screenshot(Path file) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Files.write(file, driver.getScreenshotAs(OutputType.BYTES));
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    try {
      driver.quit();
    } finally {
      deleteQuietly(profile);
    }
  }

  private static void deleteQuietly(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException e) {
      // a profile left in the temporary folder is harmless
    }
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
