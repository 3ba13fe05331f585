package dev.fulcrum.testkit.browser;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import org.junit.jupiter.api.Test;

class HeadlessBrowserTest {

  @Test
  void opensAPageRunsScriptsAndReportsScriptErrors() throws Exception {
    HeadlessBrowser.assumeAvailable();
    Path page = Files.createTempFile("fulcrum-page", ".html");
    Files.writeString(
        page,
        "<html><body><p id=x>hello</p><script>document.title='t';"
            + "throw new Error('boom')</script></body></html>");
    try (HeadlessBrowser browser = HeadlessBrowser.start()) {
      browser.open(URI.create(page.toUri().toString()));
      assertThat(browser.script("return document.getElementById('x').textContent"))
          .isEqualTo("hello");
      assertThat(browser.severeConsoleMessages()).anyMatch(m -> m.contains("boom"));
      Path shot = browser.screenshot(Paths.get("target", "screenshots", "headless-browser.png"));
      assertThat(Files.size(shot)).isPositive();
    } finally {
      Files.deleteIfExists(page);
    }
  }
}
