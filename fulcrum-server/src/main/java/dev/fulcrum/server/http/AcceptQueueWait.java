package dev.fulcrum.server.http;

import io.netty.channel.Channel;
import io.netty.channel.epoll.EpollSocketChannel;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How long a new connection waited in the kernel's accept queue: from the handshake's completion
 * (the kernel creating the connection) to the server accepting it. In a burst of connections the
 * queue is full and a connection can wait there for seconds; the header timeout counts that wait as
 * the client's time, as a client does (its connect returned when the handshake completed).
 *
 * <p>The kernel tells it on Linux: {@code TCP_INFO}'s {@code tcpi_last_data_sent} is the time since
 * the connection last sent data, and a connection that has sent nothing yet reports the time since
 * it was created (the kernel sets the send stamp when it creates the connection from the
 * handshake's last ACK). Read once, before the server writes anything. Only the epoll transport
 * exposes {@code TCP_INFO}; on io_uring and NIO the wait is taken as 0 (the timer starts at the
 * accept, as before).
 *
 * <p>Not counted: a SYN the kernel dropped at a full queue (the client resends it after 1 s, then 3
 * s; until then there is no connection), and a handshake whose last ACK the kernel dropped at a
 * full queue (the connection is created when a later ACK or the first data arrives).
 */
final class AcceptQueueWait {
  private static final Logger log = LoggerFactory.getLogger(AcceptQueueWait.class);

  /** Waits shorter than this are not logged (debug level). */
  private static final long LOGGED_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private AcceptQueueWait() {}

  /**
   * The nanoseconds {@code ch} waited in the accept queue (millisecond resolution), or 0 where the
   * transport does not tell it. Call before the server writes to {@code ch}.
   */
  static long nanos(Channel ch) {
    if (!(ch instanceof EpollSocketChannel e) || !e.isOpen()) {
      return 0;
    }
    long waited;
    try {
      waited = TimeUnit.MILLISECONDS.toNanos(e.tcpInfo().lastDataSent());
    } catch (RuntimeException closedMeanwhile) {
      return 0;
    }
    if (waited >= LOGGED_NANOS && log.isDebugEnabled()) {
      log.debug("{} waited {} ms in the accept queue", ch, TimeUnit.NANOSECONDS.toMillis(waited));
    }
    return waited;
  }
}
