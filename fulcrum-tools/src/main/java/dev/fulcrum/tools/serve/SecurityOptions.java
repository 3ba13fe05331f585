package dev.fulcrum.tools.serve;

import dev.fulcrum.server.metrics.MetricsSecurity;
import dev.fulcrum.server.security.AccessPolicy;
import dev.fulcrum.server.security.Security;
import dev.fulcrum.server.security.Tls;
import dev.fulcrum.server.security.Tokens;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The {@code serve} flags for bearer tokens and TLS on the REST and gRPC ports, and whether the
 * metrics port uses them too (opt-in: {@code --metrics-auth}, {@code --metrics-tls}; by default it
 * stays open and cleartext, as scrapes are usually restricted by the network).
 *
 * <p>Not thread-safe: picocli fills the fields once, before {@code serve} starts.
 */
final class SecurityOptions {
  private static final Logger log = LoggerFactory.getLogger(SecurityOptions.class);

  @Option(
      names = "--auth-token-file",
      paramLabel = "FILE",
      description =
          "Bearer tokens, one '<scope> <token>' a line (scope inference or management; # starts a"
              + " comment), read once at start; the file must not be readable by others. Tokens"
              + " can also come from FULCRUM_INFERENCE_TOKEN and FULCRUM_MANAGEMENT_TOKEN. With an"
              + " inference token, every endpoint but health needs 'Authorization: Bearer <token>';"
              + " the repository API always needs a management token once any token is set, or"
              + " when --host is not a loopback address.")
  Path authTokenFile;

  @Option(
      names = "--tls-cert-file",
      paramLabel = "PEM",
      description =
          "Serve REST (HTTP/1.1 and h2 by ALPN) and gRPC over TLS with this certificate chain"
              + " (PEM); needs --tls-key-file.")
  Path tlsCertFile;

  @Option(
      names = "--tls-key-file",
      paramLabel = "PEM",
      description =
          "The private key of --tls-cert-file: unencrypted PKCS#8 PEM (BEGIN PRIVATE KEY).")
  Path tlsKeyFile;

  @Option(
      names = "--tls-client-ca-file",
      paramLabel = "PEM",
      description =
          "Mutual TLS: clients must present a certificate signed by one of these CAs (PEM).")
  Path tlsClientCaFile;

  @Option(
      names = "--metrics-auth",
      defaultValue = "false",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Ask every scrape of --metrics-port for 'Authorization: Bearer <token>' with one of the"
              + " tokens above, of either scope (Prometheus: authorization.credentials_file)"
              + " (default: ${DEFAULT-VALUE}).")
  boolean metricsAuth;

  @Option(
      names = "--metrics-tls",
      defaultValue = "false",
      arity = "1",
      paramLabel = "BOOL",
      description =
          "Serve --metrics-port over TLS with --tls-cert-file and --tls-key-file (and client"
              + " certificates when --tls-client-ca-file is set) (default: ${DEFAULT-VALUE}).")
  boolean metricsTls;

  /**
   * The security of a server bound to {@code host}, with tokens from the file and {@code env}.
   *
   * @throws IllegalArgumentException naming the flag or file at fault
   */
  Security security(String host, Map<String, String> env) {
    return security(host, env, null);
  }

  /**
   * The security of a server bound to {@code host}, with tokens from the file and {@code env}, that
   * serves SageMaker's multi-model {@code /models} from {@code mmeRoot} when it is not null: with
   * no token beyond loopback that API is open to the network, and this says so loudly.
   *
   * @throws IllegalArgumentException naming the flag or file at fault
   */
  Security security(String host, Map<String, String> env, @Nullable Path mmeRoot) {
    if ((tlsCertFile == null) != (tlsKeyFile == null)) {
      throw new IllegalArgumentException("--tls-cert-file and --tls-key-file go together");
    }
    if (tlsClientCaFile != null && tlsCertFile == null) {
      throw new IllegalArgumentException("--tls-client-ca-file needs --tls-cert-file");
    }
    List<AccessPolicy.Token> tokens = Tokens.load(authTokenFile, env);
    boolean beyondLoopback = Security.beyondLoopback(host);
    AccessPolicy plain = new AccessPolicy(tokens, host, beyondLoopback);
    AccessPolicy access = mmeRoot == null ? plain : plain.openingSageMakerModels();
    Optional<Tls> tls =
        tlsCertFile == null
            ? Optional.empty()
            : Optional.of(new Tls(tlsCertFile, tlsKeyFile, Optional.ofNullable(tlsClientCaFile)));
    if (!access.managementEnabled()) {
      log.info(
          tokens.isEmpty()
              ? "the repository API is disabled: --host {} is reachable beyond loopback and no"
                  + " management token is set (FULCRUM_MANAGEMENT_TOKEN or --auth-token-file)"
              : "the repository API is disabled: tokens are configured but none with the"
                  + " management scope (FULCRUM_MANAGEMENT_TOKEN or --auth-token-file); --host {}",
          host);
    }
    if (beyondLoopback && tokens.isEmpty()) {
      log.warn(
          "--host {} is reachable beyond loopback and no token is set: inference, metadata,"
              + " statistics and the dashboard are open to that network (set"
              + " FULCRUM_INFERENCE_TOKEN or --auth-token-file)",
          host);
    }
    if (beyondLoopback && !tokens.isEmpty() && tls.isEmpty()) {
      log.warn("bearer tokens travel in cleartext: add --tls-cert-file and --tls-key-file");
    }
    if (mmeRoot != null && beyondLoopback && tokens.isEmpty()) {
      log.warn(
          "POST/DELETE /models load and unload models from {} for anyone who reaches --host {}"
              + " (no token is set; SageMaker's agent sends none): intended only for a SageMaker"
              + " container that its network isolates",
          mmeRoot,
          host);
    }
    log.info(
        "security: {}, {}, sagemaker /models: {}",
        access,
        tls.map(t -> "TLS" + (t.clientCaFile().isPresent() ? " with client certificates" : ""))
            .orElse("cleartext"),
        sageMakerModels(mmeRoot, access));
    return new Security(access, tls);
  }

  /**
   * Who may call SageMaker's {@code /models} on this server, for the startup summary: {@code off}
   * (no root mounted, or tokens without a management one), {@code open} (no token at all) or {@code
   * management token}.
   */
  static String sageMakerModels(@Nullable Path mmeRoot, AccessPolicy access) {
    if (mmeRoot == null) {
      return "off";
    }
    if (!access.hasTokens()) {
      return "open";
    }
    return access.managementEnabled() ? "management token" : "off";
  }

  /**
   * The metrics port's share of {@code security}, as {@code --metrics-auth} and {@code
   * --metrics-tls} ask.
   *
   * @throws IllegalArgumentException when one asks for tokens or TLS that are not configured
   */
  MetricsSecurity metricsSecurity(Security security) {
    return MetricsSecurity.of(security, metricsAuth, metricsTls);
  }
}
