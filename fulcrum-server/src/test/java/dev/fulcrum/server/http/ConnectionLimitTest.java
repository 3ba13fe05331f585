package dev.fulcrum.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The connection cap, and its choice of which connection that never sent a request head to evict:
 * simulated time (an injected clock), no sleeps.
 */
class ConnectionLimitTest {
  private static final Duration GRACE = Duration.ofMillis(100);

  private final AtomicLong now = new AtomicLong(1_000_000_000L);

  private ConnectionLimit evicting(int max) {
    return ConnectionLimit.evictingSlowStarts(max, GRACE, now::get);
  }

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  /** Admitted, and polled by its event loop since (what it had sent has been read). */
  private static EmbeddedChannel admitted(ConnectionLimit limit) {
    EmbeddedChannel c = unpolled(limit);
    polled(c);
    return c;
  }

  /** Admitted and registered, but its event loop has not polled its socket yet. */
  private static EmbeddedChannel unpolled(ConnectionLimit limit) {
    EmbeddedChannel c = new EmbeddedChannel();
    assertThat(limit.admit(c)).isTrue();
    return c;
  }

  /**
   * The connection's event loop runs its I/O and tasks: three times (an eviction batch's hops; its
   * last victim is guaranteed two polls after it was queued).
   */
  private static void polled(EmbeddedChannel c) {
    c.runPendingTasks();
    c.runPendingTasks();
    c.runPendingTasks();
  }

  /**
   * Whether the connection is open once its event loop has polled it three times (an eviction's
   * wait).
   */
  private static boolean open(EmbeddedChannel c) {
    polled(c);
    return c.isOpen();
  }

  /** The client sends {@code n} bytes of its head (read through the connection's pipeline). */
  private static void sends(EmbeddedChannel c, int n) {
    c.writeInbound(Unpooled.wrappedBuffer(new byte[n]));
    c.releaseInbound();
  }

  @Test
  void aPlainCapRefusesTheNextConnection() {
    ConnectionLimit limit = new ConnectionLimit(2);
    EmbeddedChannel a = admitted(limit);
    admitted(limit);
    assertThat(limit.admit(new EmbeddedChannel())).isFalse();
    assertThat(open(a)).isTrue();
    assertThat(limit.open()).isEqualTo(2);
    a.close();
    assertThat(limit.open()).isEqualTo(1);
  }

  @Test
  void aFullPortClosesAnUnstartedConnectionPastTheGraceForANewOne() {
    ConnectionLimit limit = evicting(2);
    EmbeddedChannel oldest = admitted(limit);
    EmbeddedChannel next = admitted(limit);
    advance(GRACE);
    EmbeddedChannel client = new EmbeddedChannel();
    assertThat(limit.admit(client)).isTrue();
    assertThat(open(oldest)).isFalse();
    assertThat(open(next)).isTrue();
    assertThat(limit.open()).isEqualTo(2);
  }

  @Test
  void aStartedConnectionIsNeverEvicted() {
    ConnectionLimit limit = evicting(2);
    EmbeddedChannel a = admitted(limit);
    EmbeddedChannel b = admitted(limit);
    ConnectionLimit.started(a);
    ConnectionLimit.started(b);
    advance(Duration.ofHours(1));
    assertThat(limit.admit(new EmbeddedChannel())).isFalse();
    assertThat(open(a)).isTrue();
    assertThat(open(b)).isTrue();
  }

  @Test
  void aConnectionWithinTheGraceIsNeverEvictedTheNewOneIsRefusedInstead() {
    ConnectionLimit limit = evicting(2);
    EmbeddedChannel a = admitted(limit);
    EmbeddedChannel b = admitted(limit);
    advance(GRACE.minusNanos(1));
    EmbeddedChannel refused = new EmbeddedChannel();
    assertThat(limit.admit(refused)).isFalse();
    assertThat(open(a)).isTrue();
    assertThat(open(b)).isTrue();
    assertThat(limit.open()).isEqualTo(2);
  }

  @Test
  void aFreshConnectionAmongOldSlowOnesIsNotEvictedTheSlowOnesAre() {
    // A slowloris port: 4 connections a byte a second; a normal client connects, its head not yet
    // read; more slow connections keep arriving. They evict each other, never the fresh client.
    ConnectionLimit limit = evicting(5);
    List<EmbeddedChannel> slow = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      slow.add(admitted(limit));
    }
    advance(Duration.ofSeconds(1));
    slow.forEach(c -> sends(c, 1));
    EmbeddedChannel client = admitted(limit);
    for (int i = 0; i < 4; i++) {
      advance(Duration.ofMillis(20)); // the client's whole grace passes in these arrivals
      assertThat(limit.admit(new EmbeddedChannel())).isTrue();
      assertThat(open(client)).isTrue();
    }
    assertThat(slow).noneMatch(ConnectionLimitTest::open);
  }

  @Test
  void theSlowestSenderPastTheGraceGoesFirstNotTheOldest() {
    ConnectionLimit limit = evicting(3);
    EmbeddedChannel tlsHandshake = admitted(limit); // oldest; sent its ClientHello at once
    sends(tlsHandshake, 517);
    advance(Duration.ofMillis(50));
    EmbeddedChannel slowloris = admitted(limit);
    EmbeddedChannel silent = admitted(limit);
    advance(Duration.ofSeconds(2));
    sends(slowloris, 2); // a byte a second
    assertThat(limit.admit(new EmbeddedChannel())).isTrue();
    assertThat(open(silent)).isFalse(); // 0 bytes a second
    assertThat(open(slowloris)).isTrue();
    assertThat(limit.admit(new EmbeddedChannel())).isTrue();
    assertThat(open(slowloris)).isFalse(); // 1 byte a second, below the ClientHello's ~250
    assertThat(open(tlsHandshake)).isTrue();
  }

  @Test
  void equallySlowConnectionsGoOldestFirst() {
    ConnectionLimit limit = evicting(3);
    EmbeddedChannel first = admitted(limit);
    advance(Duration.ofMillis(10));
    EmbeddedChannel second = admitted(limit);
    EmbeddedChannel third = admitted(limit);
    advance(GRACE);
    assertThat(limit.admit(new EmbeddedChannel())).isTrue();
    assertThat(open(first)).isFalse();
    assertThat(open(second)).isTrue();
    assertThat(open(third)).isTrue();
  }

  @Test
  void onlyTheOldestFewAreComparedSoAnEvictionCostsNoScanOfThePort() {
    ConnectionLimit limit = evicting(ConnectionLimit.CANDIDATES + 2);
    List<EmbeddedChannel> old = new ArrayList<>();
    for (int i = 0; i < ConnectionLimit.CANDIDATES; i++) {
      EmbeddedChannel c = admitted(limit);
      sends(c, 100);
      old.add(c);
    }
    EmbeddedChannel silentButLater = admitted(limit); // slower, but behind the compared few
    EmbeddedChannel last = admitted(limit);
    sends(last, 100);
    advance(GRACE);
    assertThat(limit.admit(new EmbeddedChannel())).isTrue();
    assertThat(open(old.get(0))).isFalse();
    assertThat(open(silentButLater)).isTrue();
  }

  /**
   * Session 12's resets with two acceptors: a real client's head waits unread in its socket while
   * its event loop is busy registering a burst; counted as 0 bytes past the grace, it is the
   * slowest candidate. The eviction waits for its loop to poll it: it has started by then, and is
   * spared.
   */
  @Test
  void anEvictedConnectionWhoseHeadWasWaitingUnreadIsSparedOnceItsLoopReadsIt() {
    ConnectionLimit limit = evicting(2);
    EmbeddedChannel realClient = unpolled(limit); // oldest; its head is in the socket, unread
    EmbeddedChannel slowloris = admitted(limit);
    sends(slowloris, 1);
    advance(GRACE.multipliedBy(5));
    assertThat(limit.admit(new EmbeddedChannel())).isTrue(); // chooses the real client: 0 bytes

    // Its loop polls it before the eviction's turn: the head is read, the connection starts.
    ConnectionLimit.started(realClient); // the head decoded as it is read
    sends(realClient, 300);
    assertThat(open(realClient)).isTrue();
    assertThat(limit.spared()).isEqualTo(1);
    assertThat(limit.evicted()).isZero();
    assertThat(open(slowloris)).isTrue();
  }

  @Test
  void anEvictedConnectionThatIsStillSilentOnceItsLoopPolledItIsClosedAndCounted() {
    ConnectionLimit limit = evicting(1);
    EmbeddedChannel silent = unpolled(limit);
    advance(GRACE.multipliedBy(5));
    assertThat(limit.admit(new EmbeddedChannel())).isTrue();
    assertThat(silent.isOpen()).isTrue(); // not before its loop has polled it
    assertThat(open(silent)).isFalse();
    assertThat(limit.evicted()).isEqualTo(1);
    assertThat(limit.spared()).isZero();
  }

  @Test
  void aSilentConnectionEvictedWhileWaitingForItsRegistrationIsClosedUnregisteredAndCounted() {
    // Registrations keeps a flood's silent connections queued for their loop; one evicted there is
    // closed by that loop without ever being registered, and its place is given back.
    ConnectionLimit limit = evicting(1);
    EmbeddedChannel loopOwner = new EmbeddedChannel(); // its loop stands for the victim's
    EmbeddedChannel waiting = new EmbeddedChannel(false, false); // accepted, not registered
    assertThat(limit.admit(waiting)).isTrue();
    ConnectionLimit.registeringOn(waiting, loopOwner.eventLoop());
    advance(GRACE.multipliedBy(2));
    EmbeddedChannel next = unpolled(limit);
    polled(loopOwner);
    assertThat(waiting.isOpen()).isFalse();
    assertThat(waiting.isRegistered()).isFalse();
    assertThat(limit.evicted()).isEqualTo(1);
    assertThat(limit.open()).isEqualTo(1);
    assertThat(open(next)).isTrue();
  }

  @Test
  void aRefusalIsCounted() {
    ConnectionLimit limit = evicting(1);
    admitted(limit);
    assertThat(limit.admit(new EmbeddedChannel())).isFalse(); // the only one is within the grace
    assertThat(limit.refused()).isEqualTo(1);
  }

  @Test
  void theByteCounterStepsOutOnceTheConnectionStarted() {
    ConnectionLimit limit = evicting(2);
    EmbeddedChannel c = admitted(limit);
    assertThat(c.pipeline().get("connection-progress")).isNotNull();
    ConnectionLimit.started(c);
    sends(c, 10);
    assertThat(c.pipeline().get("connection-progress")).isNull();
  }

  /**
   * The REST port's cap: no byte counter until the connection's first read (most of a flood never
   * sends one); that read's bytes count, and the counter counts the reads after it.
   */
  @Test
  void aCapCountingFromTheFirstReadAddsItsCounterThenAndCountsThatRead() {
    ConnectionLimit limit =
        ConnectionLimit.evictingSlowStartsCountedFromFirstRead(3, GRACE, now::get);
    EmbeddedChannel silent = admitted(limit);
    EmbeddedChannel spoke = admitted(limit);
    EmbeddedChannel slow = admitted(limit);
    assertThat(silent.pipeline().get("connection-progress")).isNull();
    ConnectionLimit.firstRead(spoke, Unpooled.wrappedBuffer(new byte[5]));
    ConnectionLimit.firstRead(slow, Unpooled.wrappedBuffer(new byte[1]));
    assertThat(spoke.pipeline().get("connection-progress")).isNotNull();
    sends(spoke, 5); // through the counter now: 10 bytes against slow's 1
    advance(GRACE.multipliedBy(5));
    assertThat(limit.admit(new EmbeddedChannel())).isTrue(); // the silent one goes: 0 bytes
    assertThat(open(silent)).isFalse();
    assertThat(limit.admit(new EmbeddedChannel())).isTrue(); // then the slower of the two
    assertThat(open(slow)).isFalse();
    assertThat(open(spoke)).isTrue();
  }

  @Test
  void closedConnectionsBehindAnUnstartedOneAreLetGoWhenItCloses() {
    // An idle server, no admissions after: what an unstarted connection at the front held back
    // goes when that one closes (its header timeout), not only when later connections arrive.
    ConnectionLimit limit = evicting(1_000_000);
    EmbeddedChannel silent = admitted(limit);
    for (int i = 0; i < 1_000; i++) {
      admitted(limit).close();
    }
    assertThat(limit.queued()).as("held behind the unstarted one").isGreaterThan(900);
    silent.close();
    assertThat(limit.queued()).isZero();
  }

  @Test
  void closedAndStartedConnectionsDoNotPileUp() {
    ConnectionLimit limit = evicting(1_000_000);
    for (int i = 0; i < 10_000; i++) {
      EmbeddedChannel c = admitted(limit);
      if (i % 2 == 0) {
        ConnectionLimit.started(c);
      } else {
        c.close();
      }
    }
    assertThat(limit.queued()).isLessThan(10);
  }
}
