package dev.fulcrum.server.http;

import io.netty.bootstrap.ServerBootstrapConfig;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SingleThreadEventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers the REST port's accepted cleartext connections with the event loops, a connection that
 * has already sent its first line ahead of a flood's silent ones (epoll, with accept threads; in
 * place of Netty's {@code ServerBootstrapAcceptor}, which never sees these connections).
 *
 * <p>Netty's acceptor queues one registration task per connection on the loop, in accept order: in
 * the opening of a 20,000-connection slowloris flood the one REST loop had thousands queued, and a
 * real client's connection, accepted at once, waited behind them for its registration (hundreds of
 * milliseconds on a quiet machine, seconds on a busy one; docs/PERFORMANCE.md, "Hostile clients",
 * sessions 19 and 20). Here the accept thread reads what the connection has sent so far (one
 * non-blocking {@code read} of at most {@value #PREFETCH} bytes at its accept, and one more at the
 * end of its accept batch: a real client sends its request right after its handshake, a flood's
 * connection nothing yet). A connection whose bytes hold a line end is registered as one of its
 * loop's tail tasks ({@link #registerEarly}: at the end of the loop's next iteration, not behind
 * its queued tasks); any other waits in its loop's {@link Pending} queue, which the loop registers
 * {@value #BATCH} at a time, newest first (oldest first past {@link #OLDEST_FIRST_NANOS}), one
 * batch a task, so that the loop's other tasks run between the batches. The bytes read are the
 * connection's first read ({@link #takeFirstBytes}, on its loop). (A second read for the batch's
 * newest connection only, session 21, measured no gain on a quiet machine and is not used.)
 *
 * <p>As Netty's acceptor would, each connection gets the bootstrap's child handler, child options
 * and child attributes ({@link ServerBootstrapConfig}, as they stand when this is built), before it
 * is registered.
 *
 * <p>At the cap, a connection still waiting here when it is evicted is closed without ever being
 * registered, unless it has sent something ({@link #evictUnregistered}): most of a flood's
 * connections then cost the loop a close of a file descriptor, not a registration, a first byte and
 * a reset.
 *
 * <p>Threads: {@link #channelRead} runs on the accept threads (shared: the port's listening sockets
 * each have one); each loop's queue is drained by that loop only, and a connection in it is touched
 * only by that loop once queued.
 */
@ChannelHandler.Sharable
public final class Registrations extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(Registrations.class);

  private static final AttributeKey<ByteBuf> FIRST_BYTES =
      AttributeKey.valueOf(Registrations.class, "firstBytes");

  private static final AttributeKey<List<Accepted>> LOOK_AGAIN =
      AttributeKey.valueOf(Registrations.class, "lookAgain");

  /**
   * A queued connection older than this is registered before the newer ones: newest first serves a
   * real client among a flood's connections soonest, but no connection may wait so long that its
   * header timeout, counted from its handshake, ends late (at least 1 s is left after the
   * registration; {@link RequestTimeouts#queuedCounted}).
   */
  static final long OLDEST_FIRST_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(1000);

  /** Bytes read from a new connection on its accept thread: a request line and then some. */
  static final int PREFETCH = 1024;

  /** Queued connections a loop registers per task before the tasks queued behind it run. */
  static final int BATCH = 16;

  private final EventLoopGroup loops;
  private final ChannelHandler childHandler;
  private final List<Map.Entry<ChannelOption<?>, Object>> childOptions;
  private final List<Map.Entry<AttributeKey<?>, Object>> childAttrs;

  /** Child options a connection refused, each logged once (not once per connection of a flood). */
  private final Set<ChannelOption<?>> refusedOptions = ConcurrentHashMap.newKeySet();

  private final ConcurrentHashMap<EventLoop, Pending> pending = new ConcurrentHashMap<>();
  private final LongAdder early = new LongAdder();
  private final LongAdder deferred = new LongAdder();

  /**
   * @param loops where connections are registered, in turn ({@link EventLoopGroup#next()})
   * @param bootstrap the port's bootstrap, its child handler set: each connection gets its child
   *     handler, options and attributes as they stand now (build this after setting them)
   */
  public Registrations(EventLoopGroup loops, ServerBootstrapConfig bootstrap) {
    this.loops = loops;
    this.childHandler =
        Objects.requireNonNull(bootstrap.childHandler(), "the bootstrap's child handler");
    this.childOptions = List.copyOf(bootstrap.childOptions().entrySet());
    this.childAttrs = List.copyOf(bootstrap.childAttrs().entrySet());
    for (EventExecutor loop : loops) {
      loop.execute(() -> {}); // starts its thread: a tail task (registerEarly) does not
    }
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof Channel child)) {
      ctx.fireChannelRead(msg);
      return;
    }
    child.pipeline().addLast(childHandler);
    configure(child);
    EventLoop loop = loops.next();
    ByteBuf first = read(child);
    if (first != null) {
      child.attr(FIRST_BYTES).set(first);
    }
    if (first != null
        && first.indexOf(first.readerIndex(), first.writerIndex(), (byte) '\n') >= 0) {
      early.increment();
      ConnectionLimit.registeringOn(child, loop);
      registerEarly(loop, child);
      return;
    }
    ConnectionLimit.registeringOn(child, loop);
    lookAgain(ctx).add(new Accepted(child, loop, System.nanoTime()));
  }

  /**
   * At the end of the accept thread's batch (up to 16 connections a listening socket a poll): a
   * second read of each silent connection of the batch, whose client may have sent its request
   * since its accept (a real client sends it right after its handshake, but an idle accept thread
   * accepts within microseconds of the handshake, before it arrives); then the silent ones queue.
   */
  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    List<Accepted> batch = lookAgain(ctx);
    for (Accepted a : batch) {
      lookAgain(a);
    }
    batch.clear();
    ctx.fireChannelReadComplete();
  }

  /** The second read of a silent connection: registered early if its line has come, else queued. */
  private void lookAgain(Accepted a) {
    Channel child = a.channel;
    ByteBuf more = read(child);
    if (more != null) {
      ByteBuf first = child.attr(FIRST_BYTES).get();
      if (first == null) {
        child.attr(FIRST_BYTES).set(more);
      } else {
        ByteBuf joined = child.alloc().heapBuffer(first.readableBytes() + more.readableBytes());
        joined.writeBytes(first).writeBytes(more);
        first.release();
        more.release();
        child.attr(FIRST_BYTES).set(joined);
      }
      ByteBuf now = child.attr(FIRST_BYTES).get();
      if (now.indexOf(now.readerIndex(), now.writerIndex(), (byte) '\n') >= 0) {
        early.increment();
        registerEarly(a.loop, child);
        return;
      }
    }
    queue(a);
  }

  /** A silent connection into its loop's queue of connections waiting for registration. */
  private void queue(Accepted a) {
    deferred.increment();
    Pending p = pending.get(a.loop);
    if (p == null) {
      p = pending.computeIfAbsent(a.loop, l -> new Pending(l));
    }
    p.add(a);
  }

  /**
   * The bootstrap's child options and attributes on {@code child}, as Netty's {@code
   * ServerBootstrapAcceptor} sets them: an option the connection refuses is logged (once an option)
   * and skipped.
   */
  @SuppressWarnings("unchecked") // the bootstrap's maps pair each key with a value of its type
  private void configure(Channel child) {
    for (Map.Entry<ChannelOption<?>, Object> e : childOptions) {
      ChannelOption<Object> option = (ChannelOption<Object>) e.getKey();
      boolean set;
      try {
        set = child.config().setOption(option, e.getValue());
      } catch (RuntimeException invalid) {
        set = false;
      }
      if (!set && refusedOptions.add(option)) {
        log.warn("Child option {} not applied to {} (the connection refused it)", option, child);
      }
    }
    for (Map.Entry<AttributeKey<?>, Object> e : childAttrs) {
      child.attr((AttributeKey<Object>) e.getKey()).set(e.getValue());
    }
  }

  /** The server channel's silent connections of its current accept batch (its accept thread's). */
  private static List<Accepted> lookAgain(ChannelHandlerContext ctx) {
    List<Accepted> l = ctx.channel().attr(LOOK_AGAIN).get();
    if (l == null) {
      l = new ArrayList<>();
      ctx.channel().attr(LOOK_AGAIN).set(l);
    }
    return l;
  }

  /** A silent connection waiting for its registration, and when it was accepted (nanoTime). */
  private record Accepted(Channel channel, EventLoop loop, long at) {}

  /** Connections registered at once (their first line read on the accept thread), so far. */
  public long early() {
    return early.sum();
  }

  /** Connections queued for registration behind those, so far. */
  public long deferred() {
    return deferred.sum();
  }

  /**
   * The bytes read from {@code ch} before it was registered, or null; the caller owns them. On the
   * connection's event loop, once.
   */
  static @Nullable ByteBuf takeFirstBytes(Channel ch) {
    return ch.hasAttr(FIRST_BYTES) ? ch.attr(FIRST_BYTES).getAndSet(null) : null;
  }

  /**
   * At the cap, for a chosen connection still waiting for its registration, on the loop it waits
   * for: true if it was closed there, silent (its file descriptor closed, never registered); false
   * if it has sent bytes, and is registered now (with what it sent as its first read), so that the
   * cap's usual two polls decide.
   */
  static boolean evictUnregistered(Channel ch, EventLoop loop) {
    ByteBuf first = ch.hasAttr(FIRST_BYTES) ? ch.attr(FIRST_BYTES).get() : null;
    if (first == null) {
      first = read(ch);
      if (first != null) {
        ch.attr(FIRST_BYTES).set(first);
      }
    }
    if (first != null) {
      register(loop, ch);
      return false;
    }
    ConnectionLimit.resetOnClose(ch);
    ch.unsafe().closeForcibly(); // unregistered: no pipeline events, no close future
    return true;
  }

  /**
   * What {@code ch} has sent so far, up to {@value #PREFETCH} bytes, read without waiting; null if
   * nothing (or the transport is not epoll, or the read failed: the loop's read will tell).
   */
  private static @Nullable ByteBuf read(Channel ch) {
    if (!(ch instanceof EpollSocketChannel e) || !ch.isOpen()) {
      return null;
    }
    ByteBuf buf = ch.alloc().directBuffer(PREFETCH);
    boolean kept = false;
    try {
      ByteBuffer nio = buf.internalNioBuffer(0, PREFETCH);
      int n = e.fd().read(nio, nio.position(), nio.limit());
      if (n > 0) {
        buf.writerIndex(n);
        kept = true;
        return buf;
      }
      return null; // 0: nothing yet; -1: the client closed (the loop's read sees it)
    } catch (IOException | RuntimeException readFailed) {
      return null;
    } finally {
      if (!kept) {
        buf.release();
      }
    }
  }

  /**
   * Registers a connection that has sent its first line as one of the loop's tail tasks, run at the
   * end of its next iteration (after its reads and at most one task quantum): not behind the loop's
   * queued tasks, which in a flood hold thousands of closed connections' deregistrations.
   */
  private static void registerEarly(EventLoop loop, Channel child) {
    if (loop instanceof SingleThreadEventLoop own) {
      try {
        own.executeAfterEventLoopIteration(
            () -> {
              if (child.isOpen() && !child.isRegistered()) {
                register(loop, child);
              } else if (!child.isOpen()) { // closed meanwhile (the port closing): its bytes go
                ByteBuf first = takeFirstBytes(child);
                if (first != null) {
                  first.release();
                }
              }
            });
        return;
      } catch (RejectedExecutionException shutDown) {
        // below: the registration fails as Netty's would
      }
    }
    register(loop, child);
  }

  private static void register(EventLoop loop, Channel child) {
    try {
      loop.register(child).addListener((ChannelFutureListener) Registrations::failed);
    } catch (RuntimeException e) {
      forceClose(child, e);
    }
  }

  private static void failed(ChannelFuture f) {
    if (!f.isSuccess()) {
      forceClose(f.channel(), f.cause());
    }
  }

  private static void forceClose(Channel child, Throwable why) {
    ByteBuf first = takeFirstBytes(child);
    if (first != null) {
      first.release();
    }
    child.unsafe().closeForcibly();
    log.warn("Failed to register an accepted channel: {}", child, why);
  }

  /**
   * Closes the connections still waiting for registration (the port is closing), on their loops.
   */
  public void close() {
    pending.values().forEach(Pending::closeAll);
  }

  /**
   * One loop's connections waiting for registration: added by the accept threads, registered by the
   * loop, newest first, {@value #BATCH} a task.
   */
  private static final class Pending implements Runnable {
    private final EventLoop loop;
    private final ConcurrentLinkedDeque<Accepted> queue = new ConcurrentLinkedDeque<>();
    private final AtomicBoolean armed = new AtomicBoolean();

    Pending(EventLoop loop) {
      this.loop = loop;
    }

    void add(Accepted a) {
      queue.addLast(a);
      if (armed.compareAndSet(false, true)) {
        loop.execute(this);
      }
    }

    @Override
    public void run() {
      int done = 0;
      long now = System.nanoTime();
      while (done < BATCH) {
        Accepted oldest = queue.peekFirst();
        Accepted a =
            oldest != null && now - oldest.at > OLDEST_FIRST_NANOS
                ? queue.pollFirst()
                : queue.pollLast();
        if (a == null) {
          armed.set(false);
          if (queue.isEmpty() || !armed.compareAndSet(false, true)) {
            return;
          }
          continue; // added meanwhile, and this task re-armed
        }
        Channel ch = a.channel;
        if (ch.isOpen() && !ch.isRegistered()) { // evicted or registered by the cap meanwhile
          register(loop, ch);
          done++;
        }
      }
      loop.execute(this); // more: behind the tasks queued meanwhile
    }

    void closeAll() {
      try {
        loop.execute(
            () -> {
              for (Accepted a = queue.pollLast(); a != null; a = queue.pollLast()) {
                Channel ch = a.channel;
                if (!ch.isRegistered()) {
                  ByteBuf first = takeFirstBytes(ch);
                  if (first != null) {
                    first.release();
                  }
                  ch.unsafe().closeForcibly();
                }
              }
            });
      } catch (RuntimeException shutDown) {
        // the loop is gone: the process is ending
      }
    }
  }
}
