package dev.fulcrum.server.http;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * The accept queue of a listening port: how many connections the kernel completes on the port's
 * behalf before the server's acceptor takes them. A SYN that finds the queue full is dropped and
 * the client resends it after 1 s, so a burst of connects faster than the acceptor drains the queue
 * costs a real client a second; a deeper queue turns those drops into waits behind every connection
 * queued ahead (docs/PERFORMANCE.md, "Hostile clients"). Linux caps the queue at {@code
 * net.core.somaxconn} without a word, so the server reads it and says what the port really got.
 *
 * <p>Stateless: safe from any thread.
 */
public final class AcceptBacklog {
  /**
   * The REST port's requested accept queue, unless {@code --http-accept-backlog} says otherwise.
   */
  public static final int DEFAULT = 1024;

  private static final Path SOMAXCONN = Path.of("/proc/sys/net/core/somaxconn");

  private AcceptBacklog() {}

  /** The kernel's cap on any port's accept queue, or empty where it cannot be read (not Linux). */
  public static OptionalInt somaxconn() {
    // One line, read as a line: Files.readString trusts the size procfs reports and has been seen
    // to return "4" of "4096".
    try (BufferedReader in = Files.newBufferedReader(SOMAXCONN, StandardCharsets.US_ASCII)) {
      String line = in.readLine();
      return line == null ? OptionalInt.empty() : parse(line);
    } catch (IOException | SecurityException e) {
      return OptionalInt.empty();
    }
  }

  /** The value of a {@code somaxconn} file, or empty if it is not a positive number. */
  static OptionalInt parse(String text) {
    try {
      int n = Integer.parseInt(text.strip());
      return n > 0 ? OptionalInt.of(n) : OptionalInt.empty();
    } catch (NumberFormatException e) {
      return OptionalInt.empty();
    }
  }

  /** The accept queue a port asking for {@code requested} gets under the cap {@code somaxconn}. */
  public static int effective(int requested, OptionalInt somaxconn) {
    return somaxconn.isPresent() ? Math.min(requested, somaxconn.getAsInt()) : requested;
  }

  /**
   * What an operator should be told when the kernel's cap cuts the requested queue short, naming
   * the setting that lifts it; empty when the port gets what it asked for.
   */
  public static Optional<String> shortfall(int requested, OptionalInt somaxconn) {
    if (effective(requested, somaxconn) >= requested) {
      return Optional.empty();
    }
    return Optional.of(
        "the kernel caps the accept queue at net.core.somaxconn = "
            + somaxconn.getAsInt()
            + ", below the "
            + requested
            + " asked for: under a burst of connections clients lose SYNs and resend them"
            + " after 1 s; raise it with `sysctl -w net.core.somaxconn="
            + requested
            + "`");
  }
}
