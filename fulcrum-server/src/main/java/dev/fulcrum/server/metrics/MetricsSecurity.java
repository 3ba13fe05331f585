package dev.fulcrum.server.metrics;

import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.security.Tls;
import java.util.Objects;
import java.util.Optional;

/**
 * Who may scrape the metrics port, and whether it speaks TLS. Each is opt-in apart from the REST
 * port's settings (serve's {@code --metrics-auth} and {@code --metrics-tls}) and reuses them: the
 * same tokens, the same certificate and key (and client CA, for mutual TLS). Prometheus supports
 * both ({@code authorization: {credentials_file: ...}}, {@code scheme: https}, {@code tls_config}).
 *
 * @param tokens when present, every request needs {@code Authorization: Bearer <token>} with a
 *     token of either scope ({@link AccessPolicy#checkAnyToken}); empty: open
 * @param tls when present, the port serves HTTPS only
 */
public record MetricsSecurity(Optional<AccessPolicy> tokens, Optional<Tls> tls) {
  public MetricsSecurity {
    Objects.requireNonNull(tokens, "tokens");
    Objects.requireNonNull(tls, "tls");
    tokens.ifPresent(
        t -> {
          if (!t.hasTokens()) {
            throw new IllegalArgumentException(
                "--metrics-auth needs a token: set --auth-token-file, FULCRUM_INFERENCE_TOKEN or"
                    + " FULCRUM_MANAGEMENT_TOKEN");
          }
        });
  }

  /** Open and cleartext, as the metrics port was before. */
  public static MetricsSecurity none() {
    return new MetricsSecurity(Optional.empty(), Optional.empty());
  }

  /**
   * The metrics port's share of the REST port's {@code security}.
   *
   * @param requireToken ask every scrape for a token
   * @param useTls serve HTTPS with the REST port's certificate
   * @throws IllegalArgumentException naming the flag, when the REST port has no token or no TLS to
   *     share
   */
  public static MetricsSecurity of(Security security, boolean requireToken, boolean useTls) {
    if (useTls && security.tls().isEmpty()) {
      throw new IllegalArgumentException("--metrics-tls needs --tls-cert-file and --tls-key-file");
    }
    return new MetricsSecurity(
        requireToken ? Optional.of(security.access()) : Optional.empty(),
        useTls ? security.tls() : Optional.empty());
  }
}
