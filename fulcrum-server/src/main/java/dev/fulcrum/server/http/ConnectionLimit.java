package dev.fulcrum.server.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.AttributeKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Counts a port's open connections against a maximum. A connection beyond it is closed as soon as
 * it is accepted, which gives its file descriptor back at once; the connections already open are
 * served as before, and the timeouts of {@link RequestTimeouts} free their places.
 *
 * <p>With {@link #evictingSlowStarts}, a full port first makes room by closing a connection that
 * has not delivered its first request head (or HTTP/2 preface; {@link #started}) and is slow about
 * it: slowloris connections then cost the attacker their place instead of costing a real client its
 * connection. The policy, in order:
 *
 * <ul>
 *   <li>a connection that has started is never evicted;
 *   <li>a connection younger than the grace is never evicted: a real client sends its head right
 *       after its connect, so a fresh connection whose head the server has not read yet is not a
 *       slow one;
 *   <li>among the {@value #CANDIDATES} oldest unstarted connections past the grace, the one that
 *       has sent the fewest bytes per second of its age goes (ties: the oldest). A slowloris client
 *       sends a byte a second or nothing; a TLS client mid-handshake has sent its ClientHello, a
 *       client on a slow link its head so far at the link's rate;
 *   <li>when every unstarted connection is within the grace (connections arrive faster than the
 *       port's size per grace), the new connection is refused rather than a young one evicted.
 * </ul>
 *
 * <p>The chosen connection is closed by its own event loop only after that loop has polled its
 * socket twice more, and only if it has still not started: in a burst the acceptors admit
 * connections faster than the loops register and read them, so a real client's head can sit unread
 * in its socket past the grace, counted as 0 bytes, the slowest of all. Such a connection is spared
 * ({@link #spared()}); the count stays one over until a connection closes.
 *
 * <p>Cost per admission at the cap: a look at the front of the queue of unstarted connections, in
 * admission order, at most {@value #CANDIDATES} live entries (closed and started ones met on the
 * way are dropped), never a scan of every connection; per eviction, a place in its event loop's
 * batch, and three zero-delay tasks on that loop per batch.
 *
 * <p>Thread-safe: every event loop admits and closes connections concurrently. The count may pass
 * the maximum by the few evicted connections whose close has not completed yet.
 */
public final class ConnectionLimit {
  private static final AttributeKey<Admission> ADMISSION =
      AttributeKey.valueOf(ConnectionLimit.class, "admission");

  /**
   * How long the REST and metrics ports give a new connection to send its first request head before
   * it may be evicted for a newer one at the cap. A client sends its head with its first segment
   * after the handshake, so this covers the server's own delay in reading it; it is short because
   * the port is safe from refusing real clients only while connections arrive slower than its size
   * per grace (4096 connections per 100 ms: 40,960 a second).
   */
  public static final Duration EVICTION_GRACE = Duration.ofMillis(100);

  /** Victims one task of a loop closes; the rest of its batch in the next (session 20). */
  static final int CLOSES_PER_TASK = 32;

  /** How many of the oldest unstarted connections past the grace one eviction compares. */
  static final int CANDIDATES = 8;

  /**
   * One admitted connection's progress towards its first request head: written on its event loop,
   * read by whichever loop evicts.
   */
  static final class Admission {
    final Channel channel;
    final long since;
    volatile long bytes;
    volatile boolean started;

    /**
     * The loop the connection waits in {@link Registrations} to be registered on, or null (Netty
     * registered it: {@link Channel#eventLoop()}). Set on the accept thread right after admission.
     */
    volatile @Nullable EventLoop loop;

    Admission(Channel channel, long since) {
      this.channel = channel;
      this.since = since;
    }

    @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: the connection's event loop
    void count(Object msg) {
      if (msg instanceof ByteBuf b) {
        bytes += b.readableBytes();
      } else if (msg instanceof ByteBufHolder h) {
        bytes += h.content().readableBytes();
      }
    }

    boolean evictable() {
      return !started && channel.isOpen();
    }

    /** Whether this connection has sent fewer bytes per second of its age than {@code other}. */
    boolean slowerThan(Admission other, long now) {
      double mine = (double) bytes * Math.max(1, now - other.since);
      double theirs = (double) other.bytes * Math.max(1, now - since);
      return mine < theirs;
    }
  }

  /**
   * First in an evicting port's pipeline: counts the bytes a connection receives until it starts,
   * then steps out. Sharable: its state is the channel's {@link Admission}.
   */
  @ChannelHandler.Sharable
  private static final class Progress extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      Admission a = ctx.channel().attr(ADMISSION).get();
      if (a == null || a.started) {
        ctx.pipeline().remove(this);
      } else {
        a.count(msg);
      }
      ctx.fireChannelRead(msg);
    }
  }

  private static final Progress PROGRESS = new Progress();

  /**
   * On the server channel, ahead of Netty's acceptor: admits each accepted connection, or closes a
   * refused one right there, before it is registered with an event loop, so that refusing costs the
   * loops that serve requests nothing. Runs on the accepting loop.
   */
  @ChannelHandler.Sharable
  private static final class Acceptor extends ChannelInboundHandlerAdapter {
    private final ConnectionLimit limit;

    Acceptor(ConnectionLimit limit) {
      this.limit = limit;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (msg instanceof Channel child && !limit.admit(child)) {
        resetOnClose(child);
        child.unsafe().closeForcibly();
        return;
      }
      ctx.fireChannelRead(msg);
    }
  }

  private final int max;
  private final long graceNanos;
  private final LongSupplier clock;

  /**
   * Whether the port's pipeline calls {@link #firstRead} on each connection's first read, so the
   * byte counter is added then rather than at admission.
   */
  private final boolean counterAtFirstRead;

  private final AtomicInteger open = new AtomicInteger();
  private final ConcurrentLinkedDeque<Admission> admitted = new ConcurrentLinkedDeque<>();
  private final LongAdder refused = new LongAdder();
  private final LongAdder evicted = new LongAdder();
  private final LongAdder spared = new LongAdder();
  private final ConcurrentHashMap<EventLoop, Evictions> evictions = new ConcurrentHashMap<>();

  /** A connection's close: one less open and, on an evicting cap, the closed entries let go. */
  private final ChannelFutureListener closed =
      f -> {
        open.decrementAndGet();
        if (!admitted.isEmpty()) { // an evicting cap's entries
          trim(Integer.MAX_VALUE);
        }
      };

  /** A plain cap: a connection beyond it is refused. */
  public ConnectionLimit(int max) {
    this(max, 0, System::nanoTime, false);
  }

  private ConnectionLimit(
      int max, long graceNanos, LongSupplier clock, boolean counterAtFirstRead) {
    this.max = max;
    this.graceNanos = graceNanos;
    this.clock = clock;
    this.counterAtFirstRead = counterAtFirstRead;
  }

  /**
   * A cap that, when full, closes a slow unstarted connection older than {@code grace} to admit the
   * new one (see the class comment); refuses the new one only when there is none.
   */
  public static ConnectionLimit evictingSlowStarts(int max, Duration grace) {
    return evictingSlowStarts(max, grace, System::nanoTime);
  }

  /** As {@link #evictingSlowStarts(int, Duration)}, with {@code clock} for nanoTime (tests). */
  static ConnectionLimit evictingSlowStarts(int max, Duration grace, LongSupplier clock) {
    return evictingSlowStarts(max, grace, clock, false);
  }

  /**
   * As {@link #evictingSlowStarts(int, Duration)}, for a port whose pipeline calls {@link
   * #firstRead} on each connection's first read: the byte counter is added to a connection's
   * pipeline then, not by the acceptor at admission, so a connection closed silent never has it
   * (one handler less to add on the accept thread and to tear down, for most of a flood).
   */
  static ConnectionLimit evictingSlowStartsCountedFromFirstRead(int max, Duration grace) {
    return evictingSlowStarts(max, grace, System::nanoTime, true);
  }

  /** As {@link #evictingSlowStartsCountedFromFirstRead}, with {@code clock} (tests). */
  static ConnectionLimit evictingSlowStartsCountedFromFirstRead(
      int max, Duration grace, LongSupplier clock) {
    return evictingSlowStarts(max, grace, clock, true);
  }

  private static ConnectionLimit evictingSlowStarts(
      int max, Duration grace, LongSupplier clock, boolean counterAtFirstRead) {
    if (grace.isNegative() || grace.isZero()) {
      throw new IllegalArgumentException("grace must be > 0, was " + grace);
    }
    return new ConnectionLimit(max, grace.toNanos(), clock, counterAtFirstRead);
  }

  /**
   * On a connection's first read, at a cap {@link #evictingSlowStartsCountedFromFirstRead}: counts
   * {@code msg}'s bytes and puts the byte counter first in {@code ch}'s pipeline for the reads
   * after it. Call on the connection's event loop, before passing {@code msg} on.
   */
  static void firstRead(Channel ch, Object msg) {
    Admission a = ch.attr(ADMISSION).get();
    if (a != null && !a.started) {
      a.count(msg);
      ch.pipeline().addFirst("connection-progress", PROGRESS);
    }
  }

  /**
   * Counts {@code ch} until it closes and returns true, or returns false if the port is full: the
   * caller then closes it. Call before the connection's handlers are added ({@link #acceptor} does,
   * before it is registered): an evicting cap puts its byte counter first in the pipeline.
   */
  public boolean admit(Channel ch) {
    if (open.incrementAndGet() > max && !evictOne()) {
      open.decrementAndGet();
      refused.increment();
      return false;
    }
    ch.closeFuture().addListener(closed);
    if (graceNanos > 0) {
      Admission a = new Admission(ch, clock.getAsLong());
      ch.attr(ADMISSION).set(a);
      if (!counterAtFirstRead) {
        ch.pipeline().addFirst("connection-progress", PROGRESS);
      }
      admitted.addLast(a);
      trim(2);
    }
    return true;
  }

  /**
   * A handler for the port's server channel (the bootstrap's {@code handler}) that admits every
   * accepted connection through this cap before it reaches an event loop, and closes a refused one
   * there. A port that installs it must not call {@link #admit} itself.
   */
  public ChannelHandler acceptor() {
    return new Acceptor(this);
  }

  /**
   * Tells the cap that {@code ch} waits in {@link Registrations} for its registration on {@code
   * loop}: an eviction of it runs there, and may close it unregistered. On the accept thread.
   */
  static void registeringOn(Channel ch, EventLoop loop) {
    Admission a = ch.attr(ADMISSION).get();
    if (a != null) {
      a.loop = loop;
    }
  }

  /** When {@code ch} was admitted (a nanoTime on the accepting thread), or -1 (debug split). */
  static long admittedAt(Channel ch) {
    Admission a = ch.attr(ADMISSION).get();
    return a == null ? -1 : a.since;
  }

  /**
   * Marks {@code ch} as started (its first request head or HTTP/2 preface arrived): it is never
   * evicted. Called on the connection's event loop.
   */
  public static void started(Channel ch) {
    Admission a = ch.attr(ADMISSION).get();
    if (a != null) {
      a.started = true;
    }
  }

  /**
   * Closes {@code ch} with a reset (RST) instead of a FIN: for a connection dropped before it sent
   * a request head (refused or evicted at the cap, or past its header timeout), which has no answer
   * to wait for. The server's socket is freed at once, without the FIN handshake and the TIME_WAIT
   * it would leave for every connection of a flood, which costs the event loop's close and the
   * kernel's packets for each of them (nginx's {@code reset_timedout_connection}).
   */
  public static void reset(Channel ch) {
    resetOnClose(ch);
    ch.close();
  }

  static void resetOnClose(Channel ch) {
    if (ch instanceof SocketChannel && ch.isOpen()) {
      try {
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
      } catch (RuntimeException closedMeanwhile) {
        // the close below still closes it, with a FIN
      }
    }
  }

  /** The most connections the port holds open at once (its {@code --http-max-connections}). */
  public int max() {
    return max;
  }

  /** Connections open now. */
  public int open() {
    return open.get();
  }

  /**
   * Connections refused at the cap so far: the new one closed because no open one could be evicted.
   */
  public long refused() {
    return refused.sum();
  }

  /** Connections closed so far to make room for a new one (not counting the spared). */
  public long evicted() {
    return evicted.sum();
  }

  /**
   * Connections chosen for eviction that had started by the time their event loop had polled them
   * twice more, and were left open: real clients whose head was waiting unread in the socket (which
   * the policy before session 12 reset).
   */
  public long spared() {
    return spared.sum();
  }

  /** Entries kept for eviction (tests: they do not pile up). */
  int queued() {
    return admitted.size();
  }

  /** Closes the slowest of the oldest unstarted connections past the grace; false if none. */
  private boolean evictOne() {
    if (graceNanos == 0) {
      return false;
    }
    for (int attempt = 0; attempt < 4; attempt++) {
      Admission victim = choose(clock.getAsLong());
      if (victim == null) {
        return false;
      }
      if (admitted.remove(victim)) { // another loop may have taken the same one: choose again
        evictAfterTwoPolls(victim);
        return true;
      }
    }
    return false;
  }

  /**
   * Resets the victim on its event loop once that loop has polled it twice more, unless it started
   * meanwhile. A loop runs its due scheduled tasks once a pass, after its I/O, so each zero-delay
   * hop waits for one poll; two, because io_uring may complete a read submitted by one poll only at
   * the next. Victims are batched per loop ({@link Evictions}): in a flood one loop gets many per
   * pass, and a pair of scheduled tasks each, created and handed across threads by the accepting
   * thread, was a tenth of what an evicted connection cost a fresh JVM.
   */
  private void evictAfterTwoPolls(Admission victim) {
    EventLoop waitsOn = victim.loop;
    EventLoop loop = waitsOn != null ? waitsOn : victim.channel.eventLoop();
    Evictions e = evictions.get(loop);
    if (e == null) {
      e = evictions.computeIfAbsent(loop, Evictions::new);
    }
    e.add(victim);
  }

  /**
   * One event loop's victims waiting for their two polls. The first victim of a batch arms one
   * zero-delay hop; that hop takes every victim queued so far and, since the last of them may have
   * been queued after the loop's latest poll, waits two more hops before it resets those still
   * silent. So each victim gets at least two polls, and a batch costs three scheduled tasks
   * whatever its size. Thread-safe: any accepting thread adds, the loop runs the hops.
   */
  private final class Evictions implements Runnable {
    private final EventLoop loop;
    private final ConcurrentLinkedQueue<Admission> queued = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean armed = new AtomicBoolean();

    Evictions(EventLoop loop) {
      this.loop = loop;
    }

    void add(Admission victim) {
      queued.add(victim);
      if (armed.compareAndSet(false, true)) {
        loop.schedule(this, 0, TimeUnit.NANOSECONDS);
      }
    }

    @Override
    public void run() {
      armed.set(false); // a victim queued from here on arms the next batch
      List<Admission> batch = new ArrayList<>();
      for (Admission a = queued.poll(); a != null; a = queued.poll()) {
        batch.add(a);
      }
      if (!batch.isEmpty()) {
        loop.schedule(
            () -> loop.schedule(() -> close(batch, 0), 0, TimeUnit.NANOSECONDS),
            0,
            TimeUnit.NANOSECONDS);
      }
    }

    /**
     * Closes the batch's victims from {@code from}, at most {@value #CLOSES_PER_TASK} in this task;
     * the rest in a task queued behind the loop's others: in a flood's opening a batch held
     * thousands, one task that kept the loop from its I/O and tail tasks (a real client's
     * registration and answer) for hundreds of milliseconds.
     */
    private void close(List<Admission> batch, int from) {
      int to = Math.min(batch.size(), from + CLOSES_PER_TASK);
      if (to < batch.size()) {
        loop.execute(() -> close(batch, to));
      }
      for (Admission victim : batch.subList(from, to)) {
        if (victim.started) {
          spared.increment();
        } else if (victim.loop != null && !victim.channel.isRegistered()) {
          // Still waiting for its registration (Registrations): closed here, never registered,
          // if it has sent nothing; else registered now, and two more polls decide.
          if (!victim.channel.isOpen()) {
            continue;
          }
          if (Registrations.evictUnregistered(victim.channel, loop)) {
            evicted.increment();
            open.decrementAndGet(); // closed forcibly: its close future, which counts, never ends
          } else {
            add(victim);
          }
        } else {
          evicted.increment();
          reset(victim.channel);
        }
      }
    }
  }

  private @Nullable Admission choose(long now) {
    Admission victim = null;
    int compared = 0;
    Iterator<Admission> it = admitted.iterator();
    while (it.hasNext() && compared < CANDIDATES) {
      Admission a = it.next();
      if (!a.evictable()) {
        it.remove();
        continue;
      }
      if (now - a.since < graceNanos) {
        break; // in admission order: the rest are younger still
      }
      compared++;
      if (victim == null || a.slowerThan(victim, now)) {
        victim = a;
      }
    }
    return victim;
  }

  /**
   * Drops entries of connections that closed or started from the front, at most {@code most}: two
   * per admission, so the queue holds about the connections admitted within the grace plus those
   * still unstarted; all it can at each close, so that closed connections queued behind an
   * unstarted one are let go when that one closes too, not only by later admissions (before, 2,000
   * closed connections stayed referenced on an idle server, ~2 KB each with their handlers). Each
   * entry is dropped once, so the work is bounded by the admissions.
   */
  private void trim(int most) {
    for (int i = 0; i < most; i++) {
      Admission a = admitted.peekFirst();
      if (a == null || a.evictable()) {
        return;
      }
      admitted.remove(a);
    }
  }
}
