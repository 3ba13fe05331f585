package dev.fulcrum.tools.serve;

import dev.fulcrum.core.runtime.LibcDowncall;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Gives SIGTERM and SIGINT back to the JVM where the launcher started it with them held: blocked
 * and ignored, so that a signal sent while the JVM starts stays pending instead of killing it (see
 * {@link TerminationSignals}). Order matters: the disposition goes back to the default while the
 * signals are still blocked (a pending one waits), the JVM's handler is installed (HotSpot installs
 * none over an ignored signal), and only then does a thread unblock them.
 *
 * <p>That thread, {@code fulcrum-signals}, is a daemon that does nothing else and parks for the
 * life of the process: every other thread, the JVM's own and those started from {@code main}, keeps
 * the signals blocked (a thread's mask is inherited), so the kernel delivers each SIGTERM and
 * SIGINT to it, whose handler (the JVM's) only wakes the JVM's signal dispatcher thread. Calls
 * through the foreign function API ({@link LibcDowncall}); Linux only, as the launcher's {@code env
 * --block-signal}; {@code SIG_UNBLOCK} is 1 and the signal numbers are 15 and 2 on every Linux the
 * JDK and ONNX Runtime ship for.
 *
 * <p>Stateless; {@link #release} is called once, by {@link TerminationSignals}'s install, under its
 * lock.
 */
final class HeldSignals {
  private HeldSignals() {}

  private static final int SIGINT = 2;
  private static final int SIGTERM = 15;
  private static final int SIG_UNBLOCK = 1;

  /** Bytes of a C {@code sigset_t}: 128 in glibc and musl; rounded up, unused bytes are zero. */
  private static final int SIGSET_BYTES = 256;

  /**
   * How long {@link #release} waits for a signal pending since the JVM started to reach the handler
   * (the JVM's signal dispatcher thread runs it): it comes within milliseconds; the bound only
   * keeps a lost wake-up from holding the start.
   */
  private static final long PENDING_WAIT_MILLIS = 10_000;

  /** Installs the JVM's handler of SIGTERM and SIGINT ({@code sun.misc.Signal.handle}). */
  interface Install {
    void run() throws ReflectiveOperationException;
  }

  /**
   * Gives the held signals back: default disposition, {@code install}, then unblocked on the {@code
   * fulcrum-signals} thread. Returns once that is done and, where a SIGTERM or SIGINT was pending,
   * once {@code stop} has seen it (so that {@link TerminationSignals#route} finds it).
   *
   * @throws ReflectiveOperationException from {@code install}
   * @throws IllegalStateException where a C call is missing or fails
   */
  static void release(Install install, TerminationSignals.Stop stop)
      throws ReflectiveOperationException {
    MethodHandle signal = need("signal", long.class, int.class, long.class);
    MethodHandle emptySet = need("sigemptyset", int.class, long.class);
    MethodHandle addSet = need("sigaddset", int.class, long.class, int.class);
    MethodHandle isMember = need("sigismember", int.class, long.class, int.class);
    MethodHandle pending = need("sigpending", int.class, long.class);
    MethodHandle mask = need("pthread_sigmask", int.class, int.class, long.class, long.class);
    ByteBuffer set = ByteBuffer.allocateDirect(SIGSET_BYTES);
    ByteBuffer waiting = ByteBuffer.allocateDirect(SIGSET_BYTES);
    long setAddress = LibcDowncall.address(set);
    long waitingAddress = LibcDowncall.address(waiting);
    if (setAddress == -1 || waitingAddress == -1) {
      throw new IllegalStateException("no native address for a sigset_t");
    }
    boolean wasPending;
    try {
      for (int s : new int[] {SIGTERM, SIGINT}) {
        // SIG_DFL (0) while blocked: a pending signal stays pending (only SIG_IGN discards it)
        check("signal", (long) signal.invoke(s, 0L) == -1L ? -1 : 0);
      }
      install.run();
      check("sigemptyset", (int) emptySet.invoke(setAddress));
      check("sigaddset", (int) addSet.invoke(setAddress, SIGTERM));
      check("sigaddset", (int) addSet.invoke(setAddress, SIGINT));
      check("sigpending", (int) pending.invoke(waitingAddress));
      wasPending =
          (int) isMember.invoke(waitingAddress, SIGTERM) == 1
              || (int) isMember.invoke(waitingAddress, SIGINT) == 1;
    } catch (ReflectiveOperationException | RuntimeException e) {
      throw e;
    } catch (Throwable e) {
      throw new IllegalStateException(e.toString(), e);
    }
    CompletableFuture<@Nullable Void> unblocked = new CompletableFuture<>();
    Thread.ofPlatform()
        .name("fulcrum-signals")
        .daemon()
        .start(
            () -> {
              try {
                check("pthread_sigmask", (int) mask.invoke(SIG_UNBLOCK, setAddress, 0L));
                unblocked.complete(null);
              } catch (Throwable e) {
                unblocked.completeExceptionally(e);
                return;
              }
              while (true) {
                LockSupport.park(); // receives SIGTERM and SIGINT; nothing else
              }
            });
    try {
      unblocked.get();
      if (wasPending) {
        stop.awaitEarly(PENDING_WAIT_MILLIS);
      }
    } catch (ExecutionException e) {
      throw new IllegalStateException(String.valueOf(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while giving the stop signals back", e);
    }
  }

  private static MethodHandle need(String name, Class<?> result, Class<?>... arguments) {
    MethodHandle h = LibcDowncall.find(name, result, arguments);
    if (h == null) {
      throw new IllegalStateException(
          "no C function " + name + " through the foreign function API");
    }
    return h;
  }

  private static void check(String call, int result) {
    if (result != 0) {
      throw new IllegalStateException(call + " failed (" + result + ")");
    }
  }
}
