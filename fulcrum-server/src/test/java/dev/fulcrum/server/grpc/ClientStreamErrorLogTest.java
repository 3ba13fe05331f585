package dev.fulcrum.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.Test;

class ClientStreamErrorLogTest {
  private static LogRecord record(String message, Throwable thrown) {
    LogRecord r = new LogRecord(Level.WARNING, message);
    r.setThrown(thrown);
    return r;
  }

  @Test
  void grpcNettysPerStreamWarningsForAClientsHeadersAreNotPassedOn() {
    ClientStreamErrorLog filter = new ClientStreamErrorLog();
    Exception badTimeout =
        new RuntimeException(new IllegalArgumentException("bad timeout format: abc"));
    assertThat(filter.isLoggable(record("Exception in onHeadersRead()", badTimeout))).isFalse();
    assertThat(filter.isLoggable(record("Stream Error", badTimeout))).isFalse();
  }

  @Test
  void aConnectionClosedForTheClientsHttp2ErrorIsNotPassedOn() {
    // a Python client's 30 KB header: Netty's GOAWAY, and grpc-netty's INFO with a stack trace
    ClientStreamErrorLog filter = new ClientStreamErrorLog();
    Http2Exception tooLarge =
        Http2Exception.connectionError(
            Http2Error.PROTOCOL_ERROR, "Header size exceeded max allowed size (%d)", 20480);
    assertThat(filter.isLoggable(record("Transport failed", tooLarge))).isFalse();
  }

  @Test
  void aConnectionClosedForTheServersOwnErrorPasses() {
    ClientStreamErrorLog filter = new ClientStreamErrorLog();
    Http2Exception internal = Http2Exception.connectionError(Http2Error.INTERNAL_ERROR, "bug");
    assertThat(filter.isLoggable(record("Transport failed", internal))).isTrue();
    assertThat(filter.isLoggable(record("Transport failed", new IllegalStateException("x"))))
        .isTrue();
  }

  @Test
  void itsOtherRecordsPass() {
    ClientStreamErrorLog filter = new ClientStreamErrorLog();
    assertThat(filter.isLoggable(record("Connection Error", new RuntimeException("x")))).isTrue();
    assertThat(filter.isLoggable(new LogRecord(Level.SEVERE, null))).isTrue();
  }
}
