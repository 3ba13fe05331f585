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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLException;
import org.jspecify.annotations.Nullable;

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
    checkKeyPair(certFile, keyFile);
    clientCaFile.ifPresent(Tls::checkCertificates);
  }

  /**
   * A CA file without a certificate (empty, a key, junk) failed when the REST port started, after
   * the models had begun to load, with Netty's stack trace and exit code 1.
   */
  private static void checkCertificates(Path caFile) {
    try (var in = Files.newInputStream(caFile)) {
      if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
        throw new IllegalArgumentException(
            "--tls-client-ca-file " + caFile + " holds no certificate ('BEGIN CERTIFICATE')");
      }
    } catch (IOException | CertificateException e) {
      throw new IllegalArgumentException(
          "--tls-client-ca-file "
              + caFile
              + " holds no PEM certificate ('BEGIN CERTIFICATE'): "
              + e.getMessage(),
          e);
    }
  }

  /**
   * Reads the first certificate and the key, and checks that the key signs what the certificate's
   * public key verifies: a key and certificate that do not belong together (a rotation that
   * replaced one of them) start a server whose every handshake fails, logged nowhere a user looks.
   * A key Netty cannot read (PKCS#1, SEC1, encrypted) is named here too, before any port starts.
   */
  private static void checkKeyPair(Path certFile, Path keyFile) {
    X509Certificate cert;
    try (var in = Files.newInputStream(certFile)) {
      var certs = CertificateFactory.getInstance("X.509").generateCertificates(in);
      if (certs.isEmpty() || !(certs.iterator().next() instanceof X509Certificate first)) {
        throw new IllegalArgumentException(
            "--tls-cert-file " + certFile + " holds no certificate ('BEGIN CERTIFICATE')");
      }
      cert = first;
    } catch (IOException | CertificateException e) {
      throw new IllegalArgumentException(
          "--tls-cert-file " + certFile + " is not a PEM certificate: " + e.getMessage(), e);
    }
    String pem;
    try {
      pem = Files.readString(keyFile, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      throw new IllegalArgumentException("--tls-key-file " + keyFile + ": " + e.getMessage(), e);
    }
    int begin = pem.indexOf("-----BEGIN PRIVATE KEY-----");
    int end = pem.indexOf("-----END PRIVATE KEY-----");
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(
          "--tls-key-file "
              + keyFile
              + " is not an unencrypted PKCS#8 PEM key ('BEGIN PRIVATE KEY')"
              + (pem.contains("BEGIN RSA PRIVATE KEY") || pem.contains("BEGIN EC PRIVATE KEY")
                  ? ""
                  : pem.contains("BEGIN ENCRYPTED PRIVATE KEY") ? " (it is encrypted)" : "")
              + "; convert it with: openssl pkcs8 -topk8 -nocrypt -in "
              + keyFile
              + " -out key.pem");
    }
    String algorithm = cert.getPublicKey().getAlgorithm();
    PrivateKey key;
    try {
      byte[] der =
          Base64.getMimeDecoder()
              .decode(pem.substring(begin + "-----BEGIN PRIVATE KEY-----".length(), end));
      key = KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      throw mismatch(certFile, keyFile, "the key is not an " + algorithm + " key", e);
    }
    String signing =
        switch (algorithm) {
          case "RSA" -> "SHA256withRSA";
          case "EC" -> "SHA256withECDSA";
          case "Ed25519", "Ed448", "EdDSA" -> algorithm;
          default -> null; // another algorithm: Netty's handshake will tell
        };
    if (signing == null) {
      return;
    }
    try {
      byte[] nonce = new byte[32];
      new SecureRandom().nextBytes(nonce);
      Signature signer = Signature.getInstance(signing);
      signer.initSign(key);
      signer.update(nonce);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(signing);
      verifier.initVerify(cert.getPublicKey());
      verifier.update(nonce);
      if (!verifier.verify(signature)) {
        throw mismatch(
            certFile, keyFile, "what the key signs, the certificate does not verify", null);
      }
    } catch (GeneralSecurityException e) {
      throw mismatch(certFile, keyFile, e.getMessage(), e);
    }
  }

  private static IllegalArgumentException mismatch(
      Path certFile, Path keyFile, @Nullable String why, @Nullable Exception cause) {
    return new IllegalArgumentException(
        "--tls-key-file "
            + keyFile
            + " is not the private key of the certificate in --tls-cert-file "
            + certFile
            + " ("
            + why
            + ")",
        cause);
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
