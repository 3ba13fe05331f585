package dev.fulcrum.server;

import java.util.Locale;

/**
 * Text a client sent (a model name from a path, a header), made safe to quote in a log line or an
 * error message: control characters (line ends, escape sequences) written as a backslash, u and
 * four hex digits, so that a request cannot forge log lines or drive a terminal (CWE-117), and long
 * text cut. Stateless.
 */
public final class ClientText {
  private ClientText() {}

  /**
   * @param text what the client sent, or a message that quotes it
   * @param max the most characters kept (then "...")
   */
  public static String printable(String text, int max) {
    int n = Math.min(text.length(), max);
    int i = 0;
    while (i < n && !control(text.charAt(i))) {
      i++;
    }
    if (i == n) {
      return text.length() > max ? text.substring(0, max) + "..." : text; // the common case
    }
    StringBuilder b = new StringBuilder(n + 16).append(text, 0, i);
    for (; i < n; i++) {
      char c = text.charAt(i);
      if (control(c)) {
        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return text.length() > max ? b + "..." : b.toString();
  }

  /**
   * The index of the first ASCII control character (0x00-0x1F, DEL) in {@code text}, or -1: the
   * characters RFC 3986 keeps out of a URI, raw or percent-decoded.
   */
  public static int firstAsciiControl(CharSequence text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c == 0x7F) {
        return i;
      }
    }
    return -1;
  }

  private static boolean control(char c) {
    return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == '\u2028' || c == '\u2029';
  }
}
