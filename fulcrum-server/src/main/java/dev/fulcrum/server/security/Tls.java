package dev.fulcrum.server.security;

import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLException;

/**
 * TLS for the REST, gRPC and (opt-in) metrics ports, from PEM files, on the JDK's TLS provider (its
 * ALPN offers h2 and http/1.1 on the REST port).
 *
 * @param certFile the server's certificate chain, PEM
 * @param keyFile the server's private key, unencrypted PKCS#8 PEM ({@code BEGIN PRIVATE KEY})
 * @param clientCaFile when present, mutual TLS: a client must present a certificate signed by one
 *     of these CAs (PEM) or the handshake fails
 */
public record Tls(Path certFile, Path keyFile, Optional<Path> clientCaFile) {
  public Tls {
    readable(certFile, "--tls-cert-file");
    readable(keyFile, "--tls-key-file");
    Objects.requireNonNull(clientCaFile, "clientCaFile");
    clientCaFile.ifPresent(f -> readable(f, "--tls-client-ca-file"));
  }

  /** The REST port's context: ALPN offers h2, then http/1.1. */
  public SslContext httpContext() {
    SslContextBuilder b =
        server()
            .ciphers(Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE)
            .applicationProtocolConfig(
                new ApplicationProtocolConfig(
                    ApplicationProtocolConfig.Protocol.ALPN,
                    ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                    ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                    ApplicationProtocolNames.HTTP_2,
                    ApplicationProtocolNames.HTTP_1_1));
    return build(b);
  }

  /**
   * The metrics port's context: HTTP/1.1 only, so no ALPN (a scraper that offers h2 falls back to
   * HTTP/1.1); client certificates as on the other ports.
   */
  public SslContext metricsContext() {
    return build(server());
  }

  /** The gRPC port's context (grpc-netty's ciphers and ALPN h2). */
  public SslContext grpcContext() {
    return build(GrpcSslContexts.configure(server(), SslProvider.JDK));
  }

  private SslContextBuilder server() {
    SslContextBuilder b;
    try {
      b = SslContextBuilder.forServer(certFile.toFile(), keyFile.toFile());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "cannot read the certificate "
              + certFile
              + " or the key "
              + keyFile
              + " (the key must be unencrypted PKCS#8 PEM, 'BEGIN PRIVATE KEY'; convert with"
              + " openssl pkcs8 -topk8 -nocrypt): "
              + e.getMessage(),
          e);
    }
    b.sslProvider(SslProvider.JDK);
    clientCaFile.ifPresent(ca -> b.trustManager(ca.toFile()).clientAuth(ClientAuth.REQUIRE));
    return b;
  }

  private SslContext build(SslContextBuilder b) {
    try {
      return b.build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "cannot set up TLS from --tls-cert-file "
              + certFile
              + ", --tls-key-file "
              + keyFile
              + clientCaFile.map(f -> ", --tls-client-ca-file " + f).orElse("")
              + ": "
              + e.getMessage(),
          e);
    }
  }

  private static void readable(Path file, String flag) {
    Objects.requireNonNull(file, flag);
    if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
      throw new IllegalArgumentException(flag + " " + file + " is not a readable file");
    }
  }
}
