package dev.fulcrum.server.http;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The header timeout of a port's connections that have not sent a byte yet, kept by one sweep per
 * event loop instead of a timer per connection: in a connection flood most connections are evicted
 * at the cap or time out without sending anything, and a scheduled task each (created, put into the
 * loop's timer heap, cancelled and taken out again at the close) was a large part of what every
 * such connection cost a fresh JVM's event loops, interpreted (docs/PERFORMANCE.md, "Hostile
 * clients", session 14). A connection leaves the sweep at its first bytes ({@link Silent#spoke()}),
 * when {@link RequestTimeouts} takes its head over with the same start.
 *
 * <p>Each loop's sweep is a wheel of slots of one tick ({@value #MAX_TICK_MILLIS} ms at most, a
 * fiftieth of a shorter timeout) covering the header timeout; a connection past its deadline is
 * reset ({@link ConnectionLimit#reset}) at the end of the tick its deadline falls in, so at most a
 * tick late. A connection that speaks or closes first leaves its slot at once ({@link
 * Silent#spoke()}, {@link Silent#closed()}: a swap with the slot's last entry, no allocation), so
 * the wheel holds only connections that are open and silent: a flood of connections that close
 * before speaking had each held its closed channel for up to the header timeout (about 1.7 KiB of
 * heap each; 15,700 of them, 27 MB, after 20,000 connect-and-close clients in 6 s, session 36). The
 * wheel's task runs once a tick while the loop has silent connections, never otherwise.
 *
 * <p>Threads: one instance for the port; {@link #watch} runs on the connection's event loop, and
 * each loop's wheel is used by that loop only.
 */
final class SilentConnections {
  private static final Logger log = LoggerFactory.getLogger(SilentConnections.class);

  static final long MAX_TICK_MILLIS = 100;

  private final long headerNanos;
  private final long tickNanos;
  private final int slots;
  private final ConcurrentHashMap<EventLoop, Wheel> wheels = new ConcurrentHashMap<>();

  /**
   * One connection that has not yet sent its first line (nothing at all, or a part of it held by
   * {@link #firstLine}). Loop-confined.
   */
  static final class Silent {
    final Channel channel;

    /** Its bytes before its first line ends; empty until it has sent some. */
    final FirstLine firstLine = new FirstLine();

    /** Whether a read has come (the cap's byte counter counts from the first). */
    boolean read;

    /** When its head's time began (the header timeout counts from here). */
    final long headStart;

    final long deadline;

    /** The wheel holding it, its slot and its place there; null once it left the wheel. */
    private @Nullable Wheel wheel;

    private int slotIndex;
    private int index;

    /** Debug split only (HttpPipeline's ConnectionSplit log). */
    long activeAt;

    long queueWait;
    int tasksAtActive;
    boolean prefetched;

    Silent(Channel channel, long headStart, long deadline) {
      this.channel = channel;
      this.headStart = headStart;
      this.deadline = deadline;
    }

    /** Its first line arrived: it leaves the sweep. Call on its event loop. */
    void spoke() {
      leave();
    }

    /** It closed before its first line: it leaves the sweep. Call on its event loop. */
    void closed() {
      leave();
    }

    private void leave() {
      Wheel w = wheel;
      if (w != null) {
        w.remove(this);
      }
    }
  }

  SilentConnections(Duration headerTimeout) {
    this.headerNanos = headerTimeout.toNanos();
    this.tickNanos =
        Math.max(
            TimeUnit.MILLISECONDS.toNanos(1),
            Math.min(TimeUnit.MILLISECONDS.toNanos(MAX_TICK_MILLIS), headerNanos / 50));
    this.slots = (int) Math.min(1 << 16, headerNanos / tickNanos + 2);
  }

  /**
   * Starts {@code ch}'s header timeout, counted from {@code headStart} (a {@link System#nanoTime}),
   * on its event loop's sweep. Call on that loop.
   */
  Silent watch(Channel ch, long headStart) {
    Silent s = new Silent(ch, headStart, headStart + headerNanos);
    EventLoop loop = ch.eventLoop();
    Wheel w = wheels.get(loop);
    if (w == null) {
      w = wheels.computeIfAbsent(loop, Wheel::new);
    }
    w.add(s);
    return s;
  }

  /** Connections {@code loop}'s sweep holds now (for tests; call on that loop). */
  int watched(EventLoop loop) {
    Wheel w = wheels.get(loop);
    return w == null ? 0 : w.size;
  }

  /** One event loop's silent connections, by the tick of their deadline. Loop-confined. */
  private final class Wheel implements Runnable {
    private final EventLoop loop;
    private final List<List<Silent>> slot;
    private int size;

    /** The next tick to sweep (a nanoTime divided by the tick). */
    private long cursor;

    private boolean scheduled;

    Wheel(EventLoop loop) {
      this.loop = loop;
      this.slot = new ArrayList<>(slots);
      for (int i = 0; i < slots; i++) {
        slot.add(new ArrayList<>());
      }
    }

    void add(Silent s) {
      long tick = Math.floorDiv(s.deadline, tickNanos);
      if (size == 0) {
        cursor = Math.min(tick, Math.floorDiv(System.nanoTime(), tickNanos));
      }
      int i = (int) Math.floorMod(tick, (long) slots);
      List<Silent> list = slot.get(i);
      s.wheel = this;
      s.slotIndex = i;
      s.index = list.size();
      list.add(s);
      size++;
      if (!scheduled) {
        scheduled = true;
        scheduleNext(System.nanoTime());
      }
    }

    /** Takes {@code s} out of its slot: the slot's last entry takes its place. */
    void remove(Silent s) {
      List<Silent> list = slot.get(s.slotIndex);
      Silent last = list.remove(list.size() - 1);
      if (last != s) {
        list.set(s.index, last);
        last.index = s.index;
      }
      s.wheel = null;
      size--;
    }

    private void scheduleNext(long now) {
      loop.schedule(this, Math.max(0, (cursor + 1) * tickNanos - now), TimeUnit.NANOSECONDS);
    }

    @Override
    public void run() {
      long now = System.nanoTime();
      for (int n = 0; n < slots && (cursor + 1) * tickNanos <= now; n++, cursor++) {
        sweep(slot.get((int) Math.floorMod(cursor, (long) slots)), now);
      }
      if ((cursor + 1) * tickNanos <= now) {
        cursor = Math.floorDiv(now, tickNanos); // a whole revolution late: every slot was swept
      }
      if (size > 0) {
        scheduleNext(now);
      } else {
        scheduled = false;
      }
    }

    /**
     * Resets the slot's connections past their deadline; keeps those due a revolution later. The
     * slot is rebuilt first and the resets come after, so that a close the reset may report at once
     * finds its entry gone already.
     */
    private void sweep(List<Silent> list, long now) {
      if (list.isEmpty()) {
        return;
      }
      int kept = 0;
      List<Silent> due = null;
      for (int i = 0, n = list.size(); i < n; i++) {
        Silent s = list.get(i);
        if (s.deadline - now <= 0) {
          size--;
          s.wheel = null;
          if (due == null) {
            due = new ArrayList<>();
          }
          due.add(s);
        } else {
          s.index = kept;
          list.set(kept++, s);
        }
      }
      list.subList(kept, list.size()).clear();
      if (due == null) {
        return;
      }
      for (Silent s : due) {
        if (s.channel.isOpen()) {
          if (log.isDebugEnabled()) {
            log.debug(
                "closing {}: header timeout after {} ms, silent ({} ms after it was due)",
                s.channel,
                TimeUnit.NANOSECONDS.toMillis(headerNanos),
                TimeUnit.NANOSECONDS.toMillis(now - s.deadline));
          }
          ConnectionLimit.reset(s.channel); // no head, nothing to answer: RST, no TIME_WAIT
        }
      }
    }
  }
}
