package dev.fulcrum.server;

import dev.fulcrum.core.runtime.LibcDowncall;
import io.netty.channel.Channel;
import io.netty.channel.unix.UnixChannel;
import java.lang.invoke.MethodHandle;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.jspecify.annotations.Nullable;

/**
 * Steers the new connections of a port's {@code SO_REUSEPORT} group to some of its listening
 * sockets: a classic BPF program ({@code SO_ATTACH_REUSEPORT_CBPF}, Linux 4.5 and later, no
 * privilege needed) that the kernel runs on each connection's SYN to pick the socket by its index
 * in the group, in the order the sockets started listening. A socket steered away from stays open
 * and keeps what it has accepted; it just receives no new connection, so moving a port's new
 * connections from one set of listening sockets to another loses none (closing the old sockets
 * instead would reset the connections in their accept queues). An index the group no longer has (a
 * socket closed) makes the kernel hash as if there were no program.
 *
 * <p>Stateless; {@link #steer} may be called from any thread.
 */
final class ReusePortSteering {
  private ReusePortSteering() {}

  private static final int SOL_SOCKET = 1;
  private static final int SO_ATTACH_REUSEPORT_CBPF = 51;

  // Classic BPF opcodes (linux/filter.h, linux/bpf_common.h).
  private static final short LD_W_ABS = 0x20; // A = the word at k (k past SKF_AD_OFF: ancillary)
  private static final short ALU_MOD_K = 0x94; // A %= k
  private static final short ALU_ADD_K = 0x04; // A += k
  private static final short RET_K = 0x06; // return k
  private static final short RET_A = 0x16; // return A
  private static final int SKF_AD_RANDOM = -0x1000 + 56; // a random 32-bit number per run

  /** {@code setsockopt}, or null where there is none to call (not Linux, no foreign API). */
  private static final class Libc {
    static final @Nullable MethodHandle SETSOCKOPT =
        LibcDowncall.find(
            "setsockopt", int.class, int.class, int.class, int.class, long.class, int.class);
  }

  /**
   * From now on the group's new connections go to the {@code count} sockets from index {@code
   * first} (one of them at random where {@code count > 1}).
   *
   * @param member any listening socket of the group (a native transport's: it has a file
   *     descriptor)
   * @return null when done, else why not (not Linux, no such socket option, not a native socket)
   */
  static @Nullable String steer(Channel member, int first, int count) {
    if (first < 0 || count < 1) {
      throw new IllegalArgumentException("first " + first + ", count " + count);
    }
    if (!(member instanceof UnixChannel unix)) {
      return "not a native socket: " + member.getClass().getSimpleName();
    }
    MethodHandle setsockopt = Libc.SETSOCKOPT;
    if (setsockopt == null) {
      return "setsockopt cannot be called from here (not Linux, or no foreign function API)";
    }
    ByteBuffer program = program(first, count);
    ByteBuffer fprog = ByteBuffer.allocateDirect(16).order(ByteOrder.nativeOrder());
    long programAddress = LibcDowncall.address(program);
    long fprogAddress = LibcDowncall.address(fprog);
    if (programAddress < 0 || fprogAddress < 0) {
      return "no native address for the program";
    }
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    fprog.putShort(0, (short) (program.capacity() / 8)).putLong(8, programAddress);
    try {
      int result =
          (int)
              setsockopt.invoke(
                  unix.fd().intValue(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprogAddress, 16);
      return result == 0 ? null : "setsockopt(SO_ATTACH_REUSEPORT_CBPF) failed";
    } catch (Throwable e) {
      return "setsockopt(SO_ATTACH_REUSEPORT_CBPF) failed: " + e;
    } finally {
      Reference.reachabilityFence(program);
      Reference.reachabilityFence(fprog);
    }
  }

  /** The program: {@code return first} or {@code return first + random % count}. */
  static ByteBuffer program(int first, int count) {
    int[][] code =
        count == 1
            ? new int[][] {{RET_K, first}}
            : new int[][] {
              {LD_W_ABS, SKF_AD_RANDOM}, {ALU_MOD_K, count}, {ALU_ADD_K, first}, {RET_A, 0}
            };
    ByteBuffer b = ByteBuffer.allocateDirect(8 * code.length).order(ByteOrder.nativeOrder());
    for (int i = 0; i < code.length; i++) {
      // struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }
      b.putShort(8 * i, (short) code[i][0]).putInt(8 * i + 4, code[i][1]);
    }
    return b;
  }
}
