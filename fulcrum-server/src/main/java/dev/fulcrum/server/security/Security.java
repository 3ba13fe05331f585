package dev.fulcrum.server.security;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Objects;
import java.util.Optional;

/**
 * The security settings shared by the REST and gRPC ports: who may call what, and TLS.
 *
 * @param access the token check every request passes
 * @param tls TLS for both ports, or empty for cleartext
 */
public record Security(AccessPolicy access, Optional<Tls> tls) {
  public Security {
    Objects.requireNonNull(access, "access");
    Objects.requireNonNull(tls, "tls");
  }

  /** No tokens, loopback, cleartext: everything open, as before security existed. */
  public static Security none() {
    return new Security(AccessPolicy.open(), Optional.empty());
  }

  /**
   * Whether clients on other machines can reach {@code host}: anything but a loopback address
   * ({@code 0.0.0.0} and a name that does not resolve count as reachable).
   */
  public static boolean beyondLoopback(String host) {
    try {
      return !InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return true;
    }
  }
}
