package dev.fulcrum.server.security;

import dev.fulcrum.core.config.PlainNumbers;
import dev.fulcrum.core.tenant.TenantLimits;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the configured bearer tokens, once at start: a token file ({@code --auth-token-file}, lines
 * {@code <scope> <token> [tenant=<name>] [rate=<per second>] [burst=<n>] [concurrency=<n>]}, {@code
 * #} comments and blank lines ignored) and the environment variables {@code
 * FULCRUM_INFERENCE_TOKEN} and {@code FULCRUM_MANAGEMENT_TOKEN}.
 *
 * <p>Tenants are opt-in: only when a line names a {@code tenant=} or sets a limit are requests
 * charged and limited, and then a token without {@code tenant=} belongs to a tenant named after
 * where it came from ({@code line-3} of the file, {@code env-inference}, {@code env-management}),
 * never after the secret. With plain {@code <scope> <token>} lines only, no token has a tenant. The
 * limits are the tenant's, given on any one of its lines (or the same on several).
 *
 * <p>A token file that others may read is refused (as ssh refuses such a key); one the group may
 * read is accepted with a warning. Messages name the file and line, never a token.
 *
 * <p>Threads: stateless; called once on the thread that starts the server.
 */
public final class Tokens {
  private static final Logger log = LoggerFactory.getLogger(Tokens.class);

  /** The environment variable of an inference token. */
  public static final String INFERENCE_ENV = "FULCRUM_INFERENCE_TOKEN";

  /** The environment variable of a management token. */
  public static final String MANAGEMENT_ENV = "FULCRUM_MANAGEMENT_TOKEN";

  /**
   * The least {@code rate=}: one request every 1000 s. A smaller one is a typo (a bucket that
   * almost never refills), and its interval times a large burst would not fit in a long.
   */
  static final double MIN_RATE = 0.001;

  /** The most {@code rate=}: one request a nanosecond, the bucket's resolution. */
  static final double MAX_RATE = 1e9;

  /** Tokens shorter than this are accepted with a warning: they can be guessed. */
  static final int SHORT = 16;

  private Tokens() {}

  /**
   * The tokens of a file (if given) and of the environment.
   *
   * @param file the token file, or null
   * @param env the environment ({@code System.getenv()})
   * @throws IllegalArgumentException naming the file and line of a malformed entry, or a file
   *     others may read
   */
  public static List<AccessPolicy.Token> load(@Nullable Path file, Map<String, String> env) {
    List<Sourced> sourced = new ArrayList<>();
    if (file != null) {
      sourced.addAll(read(file));
    }
    fromEnv(env, INFERENCE_ENV, Scope.INFERENCE, "env-inference", sourced);
    fromEnv(env, MANAGEMENT_ENV, Scope.MANAGEMENT, "env-management", sourced);
    Map<String, Scope> seen = new HashMap<>();
    Map<String, String> named = new HashMap<>();
    List<AccessPolicy.Token> given = sourced.stream().map(Sourced::token).toList();
    boolean tenants = AccessPolicy.tenantsOn(given);
    // The policy's one check of tenants' limits, here where a message can name the file and line.
    AccessPolicy.limitsByTenant(given, i -> sourced.get(i).where());
    for (Sourced s : sourced) {
      AccessPolicy.Token t = s.token();
      Scope before = seen.putIfAbsent(t.token(), t.scope());
      if (before != null && before != t.scope()) {
        throw new IllegalArgumentException(
            "the same token is configured with both scopes, inference and management");
      }
      if (t.tenant() != null) {
        named.putIfAbsent(t.tenant(), s.where());
      }
    }
    List<AccessPolicy.Token> tokens = new ArrayList<>(sourced.size());
    for (Sourced s : sourced) {
      AccessPolicy.Token t = s.token();
      if (!tenants || t.tenant() != null) {
        tokens.add(t);
        continue;
      }
      String namedAt = named.get(s.source());
      if (namedAt != null) {
        throw new IllegalArgumentException(
            namedAt
                + ": the tenant name '"
                + s.source()
                + "' is the one the token of "
                + s.where()
                + " gets (it names no tenant=); choose another name, or give that token one");
      }
      tokens.add(new AccessPolicy.Token(t.scope(), t.token(), s.source(), t.limits()));
    }
    return List.copyOf(tokens);
  }

  /**
   * A token as its line or variable gives it (its tenant null where none is named) and where it
   * came from.
   *
   * @param source the tenant name of a token that names none, when tenants are on
   * @param where for messages: the file and line, or the variable
   */
  private record Sourced(AccessPolicy.Token token, String source, String where) {}

  /** The tokens of one file; see the class comment. */
  private static List<Sourced> read(Path file) {
    checkPermissions(file);
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the token file " + file, e);
    }
    List<Sourced> tokens = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] parts = line.split("\\s+");
      String where = file + " line " + (i + 1);
      if (parts.length < 2) {
        throw new IllegalArgumentException(
            where
                + ": expected '<scope> <token> [tenant=<name>] [rate=<per second>] [burst=<n>]"
                + " [concurrency=<n>]' (scope inference or management)");
      }
      Scope scope;
      try {
        scope = Scope.valueOf(parts[0].toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            where + ": the scope must be inference or management, was '" + parts[0] + "'", e);
      }
      warnIfShort(parts[1], where);
      AccessPolicy.Token token = token(scope, parts, where);
      tokens.add(new Sourced(token, "line-" + (i + 1), where));
    }
    if (tokens.isEmpty()) {
      // Fail closed: a file given but empty (a secret not mounted, a template not filled in)
      // started a server that asked no request for a token, with one WARN line in the log.
      throw new IllegalArgumentException(
          "the token file "
              + file
              + " holds no token: expected lines '<scope> <token>' (scope inference or"
              + " management); without --auth-token-file the server runs without tokens");
    }
    return tokens;
  }

  /**
   * The token of a line's fields past the scope: the token, then {@code key=value} options; its
   * tenant null when the line names none.
   */
  private static AccessPolicy.Token token(Scope scope, String[] parts, String where) {
    String tenant = null;
    double rate = 0;
    int burst = 0;
    int concurrency = 0;
    Set<String> seen = new HashSet<>();
    for (int j = 2; j < parts.length; j++) {
      String option = parts[j];
      int eq = option.indexOf('=');
      String key = eq < 0 ? option : option.substring(0, eq);
      String value = eq < 0 ? "" : option.substring(eq + 1);
      if (eq <= 0 || value.isEmpty()) {
        throw new IllegalArgumentException(
            where
                + ": expected options 'tenant=<name>', 'rate=<per second>', 'burst=<n>' or"
                + " 'concurrency=<n>' after the token, was '"
                + (j == 2 && eq < 0 ? "<a third word>" : option)
                + "'");
      }
      if (!seen.add(key)) {
        throw new IllegalArgumentException(where + ": '" + key + "' is given twice");
      }
      switch (key) {
        case "tenant" -> tenant = value; // checked by the Token
        case "rate" -> rate = positive(where, key, value, MIN_RATE, MAX_RATE, false);
        case "burst" -> burst = (int) positive(where, key, value, 1, 1_000_000, true);
        case "concurrency" -> concurrency = (int) positive(where, key, value, 1, 1_000_000, true);
        default ->
            throw new IllegalArgumentException(
                where + ": unknown option '" + key + "' (known: tenant, rate, burst, concurrency)");
      }
    }
    if (burst > 0 && rate == 0) {
      throw new IllegalArgumentException(
          where + ": burst=" + burst + " needs a rate (rate=<requests per second>)");
    }
    try {
      return new AccessPolicy.Token(
          scope, parts[1], tenant, new TenantLimits(rate, burst, concurrency));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
    }
  }

  /**
   * A number of an option, from {@code min} to {@code max}: a whole one below {@code 1e6} for
   * {@code whole}.
   */
  private static double positive(
      String where, String key, String value, double min, double max, boolean whole) {
    double v;
    try {
      v = whole ? Integer.parseInt(value) : Double.parseDouble(value);
    } catch (NumberFormatException e) {
      v = Double.NaN;
    }
    if (!(v >= min && v <= max)) {
      throw new IllegalArgumentException(
          where
              + ": "
              + key
              + " must be a "
              + (whole ? "whole number" : "number")
              + " from "
              + PlainNumbers.plain(min)
              + " to "
              + PlainNumbers.plain(max)
              + ", was '"
              + value
              + "'");
    }
    return v;
  }

  private static void fromEnv(
      Map<String, String> env, String name, Scope scope, String source, List<Sourced> into) {
    String value = env.get(name);
    if (value == null || value.isBlank()) {
      return;
    }
    String token = value.strip();
    if (token.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(name + " must be one token, without spaces");
    }
    warnIfShort(token, name);
    into.add(new Sourced(new AccessPolicy.Token(scope, token), source, name));
  }

  private static void warnIfShort(String token, String where) {
    if (token.length() < SHORT) {
      log.warn(
          "{}: a token of {} characters can be guessed; use 32 random ones", where, token.length());
    }
  }

  private static void checkPermissions(Path file) {
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException(
          "the token file "
              + file
              + (Files.isDirectory(file) ? " is a folder, not a file" : " does not exist"));
    }
    Set<PosixFilePermission> perms;
    try {
      perms = Files.getPosixFilePermissions(file);
    } catch (UnsupportedOperationException e) {
      return; // not a POSIX file system: nothing to check
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the permissions of " + file, e);
    }
    if (perms.contains(PosixFilePermission.OTHERS_READ)) {
      throw new IllegalArgumentException(
          "the token file " + file + " is readable by others; chmod 600 it");
    }
    if (perms.contains(PosixFilePermission.GROUP_READ)) {
      log.warn("the token file {} is readable by its group; chmod 600 it", file);
    }
  }
}
