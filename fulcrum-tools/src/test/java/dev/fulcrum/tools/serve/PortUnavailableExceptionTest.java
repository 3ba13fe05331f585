package dev.fulcrum.tools.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class PortUnavailableExceptionTest {

  @Test
  void aTakenPortIsNamedWithItsAddressAndOption() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      int port = taken.getLocalPort();

      assertThatThrownBy(
              () ->
                  PortUnavailableException.naming(
                          "REST",
                          "--http-port",
                          "127.0.0.1",
                          port,
                          () -> {
                            try (ServerSocket again =
                                new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                              return again;
                            }
                          })
                      .call())
          .isInstanceOf(PortUnavailableException.class)
          .hasMessageStartingWith(
              "cannot listen on 127.0.0.1:" + port + " for REST (--http-port): ");
    }
  }

  @Test
  void nettysNativeBindFailureKeepsOnlyTheSystemsWords() {
    // The message shape of io.netty.channel.unix.Errors.NativeIoException, wrapped once.
    IOException netty = new IOException("bind(..) failed with error(-98): Address already in use");

    assertThatThrownBy(
            () ->
                PortUnavailableException.naming(
                        "gRPC",
                        "--grpc-port",
                        "0.0.0.0",
                        8001,
                        () -> {
                          throw new IllegalStateException("start failed", netty);
                        })
                    .call())
        .isInstanceOf(PortUnavailableException.class)
        .hasMessage("cannot listen on 0.0.0.0:8001 for gRPC (--grpc-port): Address already in use");
  }

  @Test
  void anyOtherFailurePassesUnchanged() {
    IOException certificate = new IOException("cannot read /etc/tls/server.pem");

    assertThatThrownBy(
            () ->
                PortUnavailableException.naming(
                        "REST",
                        "--http-port",
                        "127.0.0.1",
                        8000,
                        () -> {
                          throw certificate;
                        })
                    .call())
        .isSameAs(certificate);
    assertThat(certificate).isNotInstanceOf(PortUnavailableException.class);
  }
}
