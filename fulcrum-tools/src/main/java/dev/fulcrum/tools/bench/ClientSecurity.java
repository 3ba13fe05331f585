package dev.fulcrum.tools.bench;

import io.grpc.ClientInterceptor;
import io.grpc.Metadata;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.stub.MetadataUtils;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Objects;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * How bench reaches a protected server: the bearer token sent with every request (REST {@code
 * Authorization}, gRPC {@code authorization} metadata) and TLS, trusting the JDK's CAs, a CA from a
 * PEM file or, for loopback testing only, any certificate. The three clients bench uses (the JDK's
 * {@code HttpClient} for metadata and statistics, the Netty REST transport, grpc-java) each get
 * their own context from here.
 *
 * <p>Immutable and thread-safe.
 *
 * @param token the bearer token, or empty to send none
 * @param tls whether to connect with TLS (on with {@code caFile} or {@code trustAll}); with
 *     neither, the JDK's trusted CAs and host name verification
 * @param caFile trust the server certificates this CA (PEM) signed, with host name verification
 * @param trustAll trust any server certificate and skip host name verification (loopback tests)
 */
public record ClientSecurity(
    Optional<String> token, boolean tls, Optional<Path> caFile, boolean trustAll) {
  public ClientSecurity {
    Objects.requireNonNull(token, "token");
    Objects.requireNonNull(caFile, "caFile");
    token.ifPresent(
        t -> {
          if (t.isBlank() || !t.strip().equals(t)) {
            throw new IllegalArgumentException("--token must be non-empty, without spaces");
          }
        });
    if (trustAll && caFile.isPresent()) {
      throw new IllegalArgumentException("give --tls-ca or --tls-insecure, not both");
    }
    caFile.ifPresent(
        f -> {
          if (!Files.isReadable(f)) {
            throw new IllegalArgumentException("--tls-ca " + f + " is not a readable file");
          }
        });
    tls = tls || trustAll || caFile.isPresent();
  }

  /** No token, cleartext. */
  public static ClientSecurity none() {
    return new ClientSecurity(Optional.empty(), false, Optional.empty(), false);
  }

  /** The same, over TLS (an {@code https} URL). */
  ClientSecurity withTls() {
    return new ClientSecurity(token, true, caFile, trustAll);
  }

  /** The {@code Authorization} header's value, when a token is set. */
  public Optional<String> authorization() {
    return token.map(t -> "Bearer " + t);
  }

  /** For the JDK's {@code HttpClient}. */
  SSLContext jdkContext() {
    try {
      if (!trustAll && caFile.isEmpty()) {
        return SSLContext.getDefault();
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {trustManager()}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  /** For the Netty REST transport: HTTP/1.1, no ALPN. */
  SslContext nettyContext() {
    return build(SslContextBuilder.forClient().sslProvider(SslProvider.JDK));
  }

  /** For grpc-java's Netty channels (ALPN h2). */
  SslContext grpcContext() {
    return build(GrpcSslContexts.configure(SslContextBuilder.forClient(), SslProvider.JDK));
  }

  /** Adds the token to every gRPC call's metadata; empty when there is no token. */
  Optional<ClientInterceptor> grpcInterceptor() {
    return authorization()
        .map(
            a -> {
              Metadata m = new Metadata();
              m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), a);
              return MetadataUtils.newAttachHeadersInterceptor(m);
            });
  }

  private SslContext build(SslContextBuilder b) {
    if (trustAll || caFile.isPresent()) {
      b.trustManager(trustManager());
    }
    if (trustAll) {
      b.endpointIdentificationAlgorithm(null);
    }
    try {
      return b.build();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  private TrustManager trustManager() {
    if (trustAll) {
      return TrustAll.INSTANCE;
    }
    Path ca = caFile.orElseThrow(() -> new IllegalStateException("TLS is not configured"));
    try (InputStream in = Files.newInputStream(ca)) {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int i = 0;
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        store.setCertificateEntry("ca-" + i++, c);
      }
      if (i == 0) {
        throw new IllegalArgumentException("--tls-ca " + ca + " holds no PEM certificate");
      }
      TrustManagerFactory f =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      f.init(store);
      return f.getTrustManagers()[0];
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot read --tls-ca " + ca + ": " + e.getMessage(), e);
    }
  }

  /**
   * Trusts every certificate. Extended, so that the JDK does not add its own host name check around
   * it.
   */
  private static final class TrustAll extends X509ExtendedTrustManager {
    static final TrustAll INSTANCE = new TrustAll();

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) {}

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
