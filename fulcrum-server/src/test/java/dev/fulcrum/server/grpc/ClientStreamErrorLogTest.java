package dev.fulcrum.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

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
  void itsOtherRecordsPass() {
    ClientStreamErrorLog filter = new ClientStreamErrorLog();
    assertThat(filter.isLoggable(record("Connection Error", new RuntimeException("x")))).isTrue();
    assertThat(filter.isLoggable(new LogRecord(Level.SEVERE, null))).isTrue();
  }
}
