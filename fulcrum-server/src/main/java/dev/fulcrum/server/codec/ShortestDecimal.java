package dev.fulcrum.server.codec;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.math.BigInteger;
import java.nio.ByteOrder;

/**
 * Writes a finite {@code float} or {@code double} as the shortest decimal that reads back as the
 * same value, as ASCII bytes into a {@code byte[]}, with no {@code String} and no allocation per
 * value. The text is exactly {@link Float#toString(float)} / {@link Double#toString(double)} of the
 * JDK 19+ (for example {@code 1.0}, {@code -0.0}, {@code 0.001}, {@code 1.0E7}, {@code 1.4E-45}): a
 * valid JSON number, and {@code Float.parseFloat(text)} gives the value back bit for bit.
 *
 * <p>Design: the Schubfach idea (R. Giulietti, "The Schubfach way to render doubles", 2020). For
 * {@code v = c 2^q} with rounding interval {@code [vl, vr]} (half an ulp each side, a quarter below
 * at a power of two; closed when {@code c} is even, as round-half-even reading makes it), pick
 * {@code k} with {@code 10^k} about the interval's width, compute {@code 4v/10^k}, {@code 4vl/10^k}
 * and {@code 4vr/10^k} with one multiplication each by a precomputed {@code 10^-k} rounded up to 63
 * bits (float) or 126 bits (double), keeping a sticky bit for any fraction ("round to odd"), which
 * makes the comparisons against integer candidates exact. The candidates are {@code s 10^k}, {@code
 * (s+1) 10^k} and the same with one digit fewer; the shortest inside the interval wins, the closer
 * to {@code v} on a tie in length, the even one on an exact tie. The powers of ten are computed
 * once from {@link BigInteger} when the class is first used, not tabulated in the source.
 * Formatting follows {@code Float.toString}: plain notation for {@code 10^-3 <= |v| < 10^7},
 * otherwise {@code d.dddE±n}, always at least one digit after the point.
 *
 * <p>A float's digits are made eight at a time in one {@code long} (SWAR: two multiplications per
 * split, no division by a variable) and stored with one 8-byte write, so {@link #write(float,
 * byte[], int)} may leave scratch bytes after the position it returns, within {@link
 * #MAX_FLOAT_LENGTH} bytes of {@code pos}; a caller writes its next bytes over them.
 *
 * <p>Stateless after class initialization and thread-safe.
 */
public final class ShortestDecimal {
  private ShortestDecimal() {}

  /** The longest text either method writes: {@code -2.2250738585072014E-308} is 24 bytes. */
  public static final int MAX_LENGTH = 24;

  /** The longest text of a float: {@code -1.17549435E-38} is 15 bytes. */
  public static final int MAX_FLOAT_LENGTH = 15;

  // float: 24-bit significand, 8-bit exponent field.
  private static final int F_P = 24;
  private static final int F_Q_MIN = -149;
  private static final int F_C_MIN = 1 << (F_P - 1);
  private static final int F_C_TINY = 8;
  private static final int F_K_MIN = -45;
  private static final int F_K_MAX = 31;

  // double: 53-bit significand, 11-bit exponent field.
  private static final int D_P = 53;
  private static final int D_Q_MIN = -1074;
  private static final long D_C_MIN = 1L << (D_P - 1);
  private static final int D_C_TINY = 3;
  private static final int D_K_MIN = -324;
  private static final int D_K_MAX = 292;

  private static final long MASK_32 = (1L << 32) - 1;
  private static final long MASK_63 = Long.MAX_VALUE;

  private static final long[] POW10 = new long[19];

  /** Stores a {@code long} into a {@code byte[]} at any offset, first byte lowest. */
  private static final VarHandle LONG_LE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

  /** Eight ASCII zeros, one per byte. */
  private static final long ZEROS = 0x3030303030303030L;

  /** "00" to "99", two bytes each. */
  private static final byte[] PAIRS = new byte[200];

  static {
    POW10[0] = 1;
    for (int i = 1; i < POW10.length; i++) {
      POW10[i] = POW10[i - 1] * 10;
    }
    for (int i = 0; i < 100; i++) {
      PAIRS[2 * i] = (byte) ('0' + i / 10);
      PAIRS[2 * i + 1] = (byte) ('0' + i % 10);
    }
  }

  /**
   * Writes {@code v} at {@code pos} and returns the position after it; {@code out} needs {@link
   * #MAX_FLOAT_LENGTH} bytes from {@code pos}.
   *
   * @throws IllegalArgumentException for NaN or an infinity (JSON has no number for them)
   */
  public static int write(float v, byte[] out, int pos) {
    int bits = Float.floatToRawIntBits(v);
    int t = bits & (F_C_MIN - 1);
    int bq = (bits >>> (F_P - 1)) & 0xFF;
    if (bq == 0xFF) {
      throw new IllegalArgumentException("not finite: " + v);
    }
    int p = pos;
    if (bits < 0) {
      out[p++] = '-';
    }
    if (bq != 0) {
      int q = bq - 1 + F_Q_MIN; // c 2^q with 2^23 <= c < 2^24
      int c = F_C_MIN | t;
      // An integer below 2^24: its digits are exactly the shortest decimal.
      if (q < 0 && q > -F_P) {
        int f = c >> -q;
        if (f << -q == c) {
          return formatFloat(f, 0, out, p);
        }
      }
      return floatDecimal(q, c, 0, out, p);
    }
    if (t == 0) {
      return zero(out, p);
    }
    // Subnormal. With fewer than 4 bits of significand, a tenfold c gives the two digits that
    // Float.toString writes (1.4E-45, not 1.0E-45).
    return t < F_C_TINY
        ? floatDecimal(F_Q_MIN, 10 * t, -1, out, p)
        : floatDecimal(F_Q_MIN, t, 0, out, p);
  }

  /**
   * Writes {@code v} at {@code pos} and returns the position after it; {@code out} needs {@link
   * #MAX_LENGTH} bytes from {@code pos}.
   *
   * @throws IllegalArgumentException for NaN or an infinity
   */
  public static int write(double v, byte[] out, int pos) {
    long bits = Double.doubleToRawLongBits(v);
    long t = bits & (D_C_MIN - 1);
    int bq = (int) (bits >>> (D_P - 1)) & 0x7FF;
    if (bq == 0x7FF) {
      throw new IllegalArgumentException("not finite: " + v);
    }
    int p = pos;
    if (bits < 0) {
      out[p++] = '-';
    }
    if (bq != 0) {
      int q = bq - 1 + D_Q_MIN;
      long c = D_C_MIN | t;
      if (q < 0 && q > -D_P) {
        long f = c >> -q;
        if (f << -q == c) {
          return format(f, 0, out, p);
        }
      }
      return doubleDecimal(q, c, 0, out, p);
    }
    if (t == 0) {
      return zero(out, p);
    }
    return t < D_C_TINY
        ? doubleDecimal(D_Q_MIN, 10 * t, -1, out, p)
        : doubleDecimal(D_Q_MIN, t, 0, out, p);
  }

  private static int zero(byte[] out, int p) {
    out[p] = '0';
    out[p + 1] = '.';
    out[p + 2] = '0';
    return p + 3;
  }

  /** The shortest decimal of {@code c 2^q} (float), its exponent shifted by {@code dk}. */
  private static int floatDecimal(int q, int c, int dk, byte[] out, int p) {
    int odd = c & 1; // an odd c: the interval's ends do not round to v
    long cb = (long) c << 2;
    long cbr = cb + 2;
    long cbl;
    int k;
    if (c != F_C_MIN || q == F_Q_MIN) {
      cbl = cb - 2;
      k = Logs.floorLog10Pow2(q);
    } else {
      // At a power of two the ulp below is half the ulp above.
      cbl = cb - 1;
      k = Logs.floorLog10ThreeQuartersPow2(q);
    }
    int h = q + Logs.floorLog2Pow10(-k) + 33;
    long g = FloatPowers.G[F_K_MAX - k];
    int vb = roundToOdd(g, cb << h);
    int vbl = roundToOdd(g, cbl << h);
    int vbr = roundToOdd(g, cbr << h);
    int s = vb >> 2;
    if (s >= 100) {
      // One digit fewer: s' 10^(k+1) and (s'+1) 10^(k+1).
      int sp10 = s / 10 * 10;
      int tp10 = sp10 + 10;
      boolean upIn = vbl + odd <= sp10 << 2;
      boolean wpIn = (tp10 << 2) + odd <= vbr;
      if (upIn != wpIn) {
        return formatFloat(upIn ? sp10 / 10 : tp10 / 10, k + 1, out, p);
      }
    }
    int t = s + 1;
    boolean uIn = vbl + odd <= s << 2;
    boolean wIn = (t << 2) + odd <= vbr;
    if (uIn != wIn) {
      return formatFloat(uIn ? s : t, k + dk, out, p);
    }
    // Both in the interval: the closer to v, the even one on a tie.
    int cmp = vb - ((s + t) << 1);
    return formatFloat(cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t, k + dk, out, p);
  }

  /** The shortest decimal of {@code c 2^q} (double), its exponent shifted by {@code dk}. */
  private static int doubleDecimal(int q, long c, int dk, byte[] out, int p) {
    int odd = (int) c & 1;
    long cb = c << 2;
    long cbr = cb + 2;
    long cbl;
    int k;
    if (c != D_C_MIN || q == D_Q_MIN) {
      cbl = cb - 2;
      k = Logs.floorLog10Pow2(q);
    } else {
      cbl = cb - 1;
      k = Logs.floorLog10ThreeQuartersPow2(q);
    }
    int h = q + Logs.floorLog2Pow10(-k) + 2;
    int i = D_K_MAX - k;
    long g1 = DoublePowers.G1[i];
    long g0 = DoublePowers.G0[i];
    long vb = roundToOdd(g1, g0, cb << h);
    long vbl = roundToOdd(g1, g0, cbl << h);
    long vbr = roundToOdd(g1, g0, cbr << h);
    long s = vb >> 2;
    if (s >= 100) {
      long sp10 = s / 10 * 10;
      long tp10 = sp10 + 10;
      boolean upIn = vbl + odd <= sp10 << 2;
      boolean wpIn = (tp10 << 2) + odd <= vbr;
      if (upIn != wpIn) {
        return format(upIn ? sp10 : tp10, k, out, p);
      }
    }
    long t = s + 1;
    boolean uIn = vbl + odd <= s << 2;
    boolean wIn = (t << 2) + odd <= vbr;
    if (uIn != wIn) {
      return format(uIn ? s : t, k + dk, out, p);
    }
    long cmp = vb - ((s + t) << 1);
    return format(cmp < 0 || (cmp == 0 && (s & 1) == 0) ? s : t, k + dk, out, p);
  }

  /**
   * {@code floor(cp g / 2^95)}, its lowest bit set when anything was cut off (g is 63 bits): the
   * "round to odd" that keeps comparisons with multiples of 4 exact.
   */
  private static int roundToOdd(long g, long cp) {
    long x = Math.multiplyHigh(g, cp);
    long floor = x >>> 31;
    long sticky = ((x & MASK_32) + MASK_32) >>> 32;
    return (int) (floor | sticky);
  }

  /** {@code floor(cp g / 2^127)} rounded to odd, with {@code g = g1 2^63 + g0}. */
  private static long roundToOdd(long g1, long g0, long cp) {
    // cp g / 2^64 = cp g1 / 2 + cp g0 / 2^64 = hi1 2^63 + lo1 / 2 + hi0 + (lo0 / 2^64)
    long hi0 = Math.multiplyHigh(g0, cp);
    long lo1 = g1 * cp;
    long hi1 = Math.multiplyHigh(g1, cp);
    long z = (lo1 >>> 1) + hi0; // below 2^64: both terms are below 2^63
    long floor = hi1 + (z >>> 63);
    long sticky = ((z & MASK_63) + MASK_63) >>> 63;
    return floor | sticky;
  }

  /**
   * Writes {@code f 10^e} ({@code 0 < f < 10^9}, a float's digits) as Float.toString does, in int
   * arithmetic, each digit written once at its final place (the same text as {@link #format}).
   */
  private static int formatFloat(int f, int e, byte[] out, int p) {
    int digits = f;
    int exp = e;
    while (digits % 10 == 0) {
      digits /= 10;
      exp++;
    }
    int n = length(digits);
    int sci = exp + n - 1; // the value is d.ddd 10^sci
    if (sci < 0 && sci >= -3) {
      // 0.000ddd: most of a network's outputs (|v| below 1)
      out[p] = '0';
      out[p + 1] = '.';
      p += 2;
      for (int z = -1; z > sci; z--) {
        out[p++] = '0';
      }
      putFloatDigits(digits, n, out, p);
      return p + n;
    }
    if (sci >= 0 && sci < 7) {
      int intDigits = sci + 1;
      if (n <= intDigits) {
        putFloatDigits(digits, n, out, p);
        int q = p + n;
        for (int z = n; z < intDigits; z++) {
          out[q++] = '0';
        }
        out[q] = '.';
        out[q + 1] = '0';
        return q + 2;
      }
      // the whole part, '.', then the fractional digits: all digits one place right, the whole
      // part moved back (at most 7 bytes)
      putFloatDigits(digits, n, out, p + 1);
      for (int i = 0; i < intDigits; i++) {
        out[p + i] = out[p + i + 1];
      }
      out[p + intDigits] = '.';
      return p + n + 1;
    }
    // d.ddd: the digits one place right, then the first moved back before the point
    putFloatDigits(digits, n, out, p + 1);
    out[p] = out[p + 1];
    out[p + 1] = '.';
    if (n == 1) {
      out[p + 2] = '0';
      p += 3;
    } else {
      p += n + 1;
    }
    return exponent(sci, out, p);
  }

  /**
   * Writes the {@code n} digits of {@code 0 < v < 10^9}, {@code v < 10^n}, at {@code p}: the last
   * eight with one 8-byte store (so up to {@code p + max(n, 9)} bytes are written; those after
   * {@code p + n} are scratch).
   */
  private static void putFloatDigits(int v, int n, byte[] out, int p) {
    if (n > 8) {
      int hi = v / 100_000_000;
      out[p] = (byte) ('0' + hi);
      LONG_LE.set(out, p + 1, eightDigits(v - hi * 100_000_000));
    } else {
      LONG_LE.set(out, p, eightDigits(v) >>> ((8 - n) << 3));
    }
  }

  /**
   * The eight decimal digits of {@code 0 <= v < 10^8} (leading zeros kept) as ASCII bytes in a
   * {@code long}, the first digit in the lowest byte: split into 4 + 4 digits in two 32-bit lanes,
   * each lane into 2 + 2 digits in 16-bit lanes ({@code y / 100 = y * 10486 >> 20} for {@code y <
   * 10^4}), each of those into 1 + 1 digits in bytes ({@code z / 10 = z * 103 >> 10} for {@code z <
   * 100}).
   */
  static long eightDigits(int v) {
    int hi = v / 10_000;
    long x = hi | ((long) (v - hi * 10_000) << 32);
    long q = ((x * 10486) >>> 20) & 0x0000007F0000007FL;
    x = q | ((x - q * 100) << 16);
    long t = ((x * 103) >>> 10) & 0x000F000F000F000FL;
    x = t | ((x - t * 10) << 8);
    return x + ZEROS;
  }

  /** Writes "E", the sign and the digits of a decimal exponent. */
  private static int exponent(int sci, byte[] out, int p) {
    out[p++] = 'E';
    int x = sci;
    if (x < 0) {
      out[p++] = '-';
      x = -x;
    }
    if (x >= 100) {
      out[p++] = (byte) ('0' + x / 100);
      x %= 100;
      out[p++] = PAIRS[2 * x];
      out[p++] = PAIRS[2 * x + 1];
    } else if (x >= 10) {
      out[p++] = PAIRS[2 * x];
      out[p++] = PAIRS[2 * x + 1];
    } else {
      out[p++] = (byte) ('0' + x);
    }
    return p;
  }

  /**
   * Writes {@code f 10^e} (f > 0) as Float.toString does. The digits are written first, then the
   * point is put among them by moving at most 16 bytes: no division by a variable power of ten.
   */
  private static int format(long f, int e, byte[] out, int p) {
    long digits = f;
    int exp = e;
    while (digits % 10 == 0) {
      digits /= 10;
      exp++;
    }
    int n = length(digits);
    int sci = exp + n - 1; // the value is d.ddd 10^sci
    if (sci >= 0 && sci < 7) {
      int intDigits = sci + 1;
      putDigits(digits, n, out, p);
      if (n <= intDigits) {
        int q = p + n;
        for (int z = n; z < intDigits; z++) {
          out[q++] = '0';
        }
        out[q] = '.';
        out[q + 1] = '0';
        return q + 2;
      }
      // whole part, '.', the n - intDigits fractional digits moved one place right
      for (int i = p + n - 1; i >= p + intDigits; i--) {
        out[i + 1] = out[i];
      }
      out[p + intDigits] = '.';
      return p + n + 1;
    }
    if (sci < 0 && sci >= -3) {
      out[p++] = '0';
      out[p++] = '.';
      for (int z = -1; z > sci; z--) {
        out[p++] = '0';
      }
      putDigits(digits, n, out, p);
      return p + n;
    }
    // d.ddd: the digits one place right, then the first moved back before the point
    putDigits(digits, n, out, p + 1);
    out[p] = out[p + 1];
    out[p + 1] = '.';
    if (n == 1) {
      out[p + 2] = '0';
      p += 3;
    } else {
      p += n + 1;
    }
    return exponent(sci, out, p);
  }

  /** The count of decimal digits of {@code 0 < v}. */
  private static int length(int v) {
    int t = ((32 - Integer.numberOfLeadingZeros(v)) * 1233) >>> 12;
    return v < POW10[t] ? t : t + 1;
  }

  /** The count of decimal digits of {@code 0 < v < 10^18}. */
  private static int length(long v) {
    // floor(log10 v) from the bit length (1,233 / 4,096 is about log10 2), corrected by one compare
    int t = ((64 - Long.numberOfLeadingZeros(v)) * 1233) >>> 12;
    return v < POW10[t] ? t : t + 1;
  }

  /** Writes exactly {@code n} digits of {@code v} at {@code p} (zero-padded on the left). */
  private static void putDigits(long v, int n, byte[] out, int p) {
    int i = p + n;
    long r = v;
    while (r > Integer.MAX_VALUE) {
      long q = r / 100;
      int d = 2 * (int) (r - q * 100);
      out[--i] = PAIRS[d + 1];
      out[--i] = PAIRS[d];
      r = q;
    }
    int ri = (int) r;
    while (i - p >= 2) {
      int q = ri / 100;
      int d = 2 * (ri - q * 100);
      out[--i] = PAIRS[d + 1];
      out[--i] = PAIRS[d];
      ri = q;
    }
    if (i > p) {
      out[p] = (byte) ('0' + ri);
    }
  }

  /**
   * The floors of logarithms the algorithm needs, exact over the exponents of float and double
   * (checked against {@link BigInteger} arithmetic in the tests).
   */
  static final class Logs {
    private Logs() {}

    /** floor(log10(2^e)): log10(2) as a fraction of 2^41, exact for the exponents used here. */
    static int floorLog10Pow2(int e) {
      return (int) (((long) e * 661_971_961_083L) >> 41);
    }

    /** floor(log10(3/4 2^e)): the same, plus log10(3/4) as a fraction of 2^41. */
    static int floorLog10ThreeQuartersPow2(int e) {
      return (int) (((long) e * 661_971_961_083L - 274_743_187_321L) >> 41);
    }

    /** floor(log2(10^e)): log2(10) as a fraction of 2^38. */
    static int floorLog2Pow10(int e) {
      return (int) (((long) e * 913_124_641_741L) >> 38);
    }
  }

  /** 10^e rounded up to 63 bits, for e = -F_K_MAX .. -F_K_MIN (float). */
  private static final class FloatPowers {
    static final long[] G = new long[F_K_MAX - F_K_MIN + 1];

    static {
      for (int e = -F_K_MAX; e <= -F_K_MIN; e++) {
        G[e + F_K_MAX] = scaledPow10(e, 62).longValueExact();
      }
    }
  }

  /** 10^e rounded up to 126 bits, split at bit 63, for e = -D_K_MAX .. -D_K_MIN (double). */
  private static final class DoublePowers {
    static final long[] G1 = new long[D_K_MAX - D_K_MIN + 1];
    static final long[] G0 = new long[D_K_MAX - D_K_MIN + 1];

    static {
      BigInteger mask63 = BigInteger.ONE.shiftLeft(63).subtract(BigInteger.ONE);
      for (int e = -D_K_MAX; e <= -D_K_MIN; e++) {
        BigInteger g = scaledPow10(e, 125);
        G1[e + D_K_MAX] = g.shiftRight(63).longValueExact();
        G0[e + D_K_MAX] = g.and(mask63).longValueExact();
      }
    }
  }

  /**
   * {@code floor(10^e 2^(top - floor(log2 10^e))) + 1}: 10^e with its leading bit at {@code top},
   * rounded up.
   */
  static BigInteger scaledPow10(int e, int top) {
    int shift = top - Logs.floorLog2Pow10(e);
    BigInteger g;
    if (e >= 0) {
      BigInteger n = BigInteger.TEN.pow(e);
      g = shift >= 0 ? n.shiftLeft(shift) : n.shiftRight(-shift);
    } else {
      g = BigInteger.ONE.shiftLeft(shift).divide(BigInteger.TEN.pow(-e));
    }
    return g.add(BigInteger.ONE);
  }
}
