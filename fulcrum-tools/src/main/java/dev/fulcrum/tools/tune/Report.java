package dev.fulcrum.tools.tune;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * report.html: one self-contained page (uPlot's JS and CSS inlined from its WebJar on the class
 * path, the sweep's JSON embedded) with three plots and the table of trials; nothing is fetched
 * when it is viewed. Stateless.
 */
final class Report {
  static final String UPLOT = "META-INF/resources/webjars/uplot/1.6.30/dist/";

  private Report() {}

  /** The page for a sweep's results.json text. */
  static String html(String resultsJson) throws IOException {
    String page = resource("dev/fulcrum/tools/tune/report.html");
    // Inside <script>, "</" would end the element early; JSON allows "<\/".
    String data = resultsJson.replace("</", "<\\/");
    return page.replace("/*{{UPLOT_CSS}}*/", resource(UPLOT + "uPlot.min.css"))
        .replace("/*{{UPLOT_JS}}*/", resource(UPLOT + "uPlot.iife.min.js"))
        .replace("/*{{DATA}}*/null", data);
  }

  private static String resource(String path) throws IOException {
    try (InputStream in = Report.class.getClassLoader().getResourceAsStream(path)) {
      if (in == null) {
        throw new IOException("missing on the class path: " + path);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
