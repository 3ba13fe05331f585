package dev.fulcrum.server.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The shortest-decimal writer against the JDK's own (since JDK 19 {@link Float#toString} and {@link
 * Double#toString} are specified to give the shortest decimal that rounds back, the closest to the
 * value among those, the even one on a tie): the same text byte for byte, which reads back bit for
 * bit, and is a JSON number.
 */
class ShortestDecimalTest {
  private static final Pattern JSON_NUMBER =
      Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]+)?([eE][+-]?[0-9]+)?");

  private final byte[] out = new byte[ShortestDecimal.MAX_LENGTH + 8];

  private String text(float v) {
    int end = ShortestDecimal.write(v, out, 3);
    assertThat(end - 3).isLessThanOrEqualTo(ShortestDecimal.MAX_FLOAT_LENGTH);
    return new String(out, 3, end - 3, StandardCharsets.US_ASCII);
  }

  private String text(double v) {
    int end = ShortestDecimal.write(v, out, 5);
    assertThat(end - 5).isLessThanOrEqualTo(ShortestDecimal.MAX_LENGTH);
    return new String(out, 5, end - 5, StandardCharsets.US_ASCII);
  }

  /** Cheap enough for millions: the JDK's text, and the bits read back. */
  private void check(float v) {
    String s = text(v);
    if (!s.equals(Float.toString(v))) {
      throw new AssertionError(
          "float bits 0x%08x: wrote %s, Float.toString %s"
              .formatted(Float.floatToRawIntBits(v), s, Float.toString(v)));
    }
    if (Float.floatToRawIntBits(Float.parseFloat(s)) != Float.floatToRawIntBits(v)) {
      throw new AssertionError("%s does not read back as %s".formatted(s, v));
    }
  }

  private void check(double v) {
    String s = text(v);
    if (!s.equals(Double.toString(v))) {
      throw new AssertionError(
          "double bits 0x%016x: wrote %s, Double.toString %s"
              .formatted(Double.doubleToRawLongBits(v), s, Double.toString(v)));
    }
    if (Double.doubleToRawLongBits(Double.parseDouble(s)) != Double.doubleToRawLongBits(v)) {
      throw new AssertionError("%s does not read back as %s".formatted(s, v));
    }
  }

  private void checkBoth(float v) {
    for (float x : new float[] {v, -v, Math.nextUp(v), Math.nextDown(v)}) {
      if (Float.isFinite(x)) {
        check(x);
      }
    }
  }

  private void checkBoth(double v) {
    for (double x : new double[] {v, -v, Math.nextUp(v), Math.nextDown(v)}) {
      if (Double.isFinite(x)) {
        check(x);
      }
    }
  }

  @Test
  void everyFloatWithAStride() {
    // 2^32 / 1,021 ≈ 4.2 million bit patterns across every exponent, both signs.
    for (long bits = 0; bits <= 0xFFFF_FFFFL; bits += 1_021) {
      float v = Float.intBitsToFloat((int) bits);
      if (Float.isFinite(v)) {
        check(v);
      }
    }
  }

  @Test
  void floatStaysWithinItsMaxLength() {
    // The digits go out with an 8-byte store: in an array of exactly MAX_FLOAT_LENGTH bytes it
    // must neither run past the end nor change the text (every value here, longest ones included).
    byte[] exact = new byte[ShortestDecimal.MAX_FLOAT_LENGTH];
    SplittableRandom rnd = new SplittableRandom(11);
    for (int i = 0; i < 300_000; i++) {
      float v = Float.intBitsToFloat(rnd.nextInt());
      if (!Float.isFinite(v)) {
        continue;
      }
      int end = ShortestDecimal.write(v, exact, 0);
      assertThat(new String(exact, 0, end, StandardCharsets.US_ASCII)).isEqualTo(Float.toString(v));
    }
    for (float v : new float[] {-1.17549435E-38f, -0.0012345678f, -1234567.9f, -9.999999E-4f}) {
      int end = ShortestDecimal.write(v, exact, 0);
      assertThat(new String(exact, 0, end, StandardCharsets.US_ASCII)).isEqualTo(Float.toString(v));
    }
  }

  @Test
  void eightDigitsAreTheDecimalDigits() {
    for (int v = 0; v < 100_000_000; v += 9_973) {
      checkEightDigits(v);
    }
    for (int v : new int[] {0, 1, 9, 10, 99, 100, 9_999, 10_000, 10_001, 99_999_999, 12_345_678}) {
      checkEightDigits(v);
    }
  }

  private static void checkEightDigits(int v) {
    long w = ShortestDecimal.eightDigits(v);
    byte[] b = new byte[8];
    for (int i = 0; i < 8; i++) {
      b[i] = (byte) (w >>> (8 * i));
    }
    assertThat(new String(b, StandardCharsets.US_ASCII))
        .as("v=%d", v)
        .isEqualTo("%08d".formatted(v));
  }

  @Test
  void floatEdges() {
    for (float v :
        new float[] {
          0f,
          Float.MIN_VALUE,
          Float.MAX_VALUE,
          Float.MIN_NORMAL,
          1f,
          0.1f,
          0.3f,
          1e7f,
          1e-3f,
          9999999f,
          1.0E-4f,
          123456.7f,
          16777216f,
          16777215f,
          3.4028235e38f,
          1.17549435E-38f
        }) {
      checkBoth(v);
    }
    check(-0f);
    assertThat(text(-0f)).isEqualTo("-0.0");
    assertThat(text(0f)).isEqualTo("0.0");
    assertThat(text(Float.MIN_VALUE)).isEqualTo("1.4E-45");
    assertThat(text(Float.MAX_VALUE)).isEqualTo("3.4028235E38");
    assertThat(text(1e7f)).isEqualTo("1.0E7");
    assertThat(text(0.001f)).isEqualTo("0.001");
    assertThat(text(100f)).isEqualTo("100.0");
    // subnormals: the smallest 100,000 and those just below MIN_NORMAL
    for (int t = 1; t < 100_000; t++) {
      check(Float.intBitsToFloat(t));
      check(Float.intBitsToFloat(0x0080_0000 - t));
    }
    // powers of ten and of two, and their neighbours
    for (int e = -45; e <= 38; e++) {
      checkBoth(Float.parseFloat("1e" + e));
      checkBoth(Float.parseFloat("9.999999e" + e));
    }
    for (int e = -149; e <= 127; e++) {
      checkBoth(Math.scalb(1f, e));
    }
    // integers, where the plain form with ".0" is written
    for (int i = 0; i <= 1 << 17; i++) {
      check((float) i);
    }
    for (int i = (1 << 24) - 100_000; i <= (1 << 24) + 100_000; i++) {
      check((float) i);
    }
    // short decimals, the values a model's outputs are often printed from
    SplittableRandom rnd = new SplittableRandom(12);
    for (int i = 0; i < 300_000; i++) {
      checkBoth(Float.parseFloat(rnd.nextInt(1, 100_000) + "e" + rnd.nextInt(-50, 35)));
      check((float) rnd.nextGaussian());
    }
  }

  @Test
  void randomDoubles() {
    SplittableRandom rnd = new SplittableRandom(7);
    for (int i = 0; i < 2_000_000; i++) {
      double v = Double.longBitsToDouble(rnd.nextLong());
      if (Double.isFinite(v)) {
        check(v);
      }
    }
    for (int i = 0; i < 300_000; i++) {
      checkBoth(Double.parseDouble(rnd.nextLong(1, 1_000_000_000L) + "e" + rnd.nextInt(-330, 300)));
      check(rnd.nextGaussian());
      check(rnd.nextDouble());
    }
  }

  @Test
  void doubleEdges() {
    for (double v :
        new double[] {
          0d,
          Double.MIN_VALUE,
          Double.MAX_VALUE,
          Double.MIN_NORMAL,
          1d,
          0.1,
          0.3,
          1e7,
          1e-3,
          9007199254740992d,
          9007199254740991d,
          2.2250738585072014E-308,
          4.9e-324,
          1e23,
          5e-324
        }) {
      checkBoth(v);
    }
    check(-0d);
    assertThat(text(-0d)).isEqualTo("-0.0");
    assertThat(text(Double.MIN_VALUE)).isEqualTo("4.9E-324");
    assertThat(text(Double.MAX_VALUE)).isEqualTo("1.7976931348623157E308");
    assertThat(text(2e-323)).isEqualTo("2.0E-323");
    assertThat(text(1e23)).isEqualTo("1.0E23");
    for (long t = 1; t < 100_000; t++) {
      check(Double.longBitsToDouble(t));
      check(Double.longBitsToDouble(0x0010_0000_0000_0000L - t));
    }
    for (int e = -324; e <= 308; e++) {
      checkBoth(Double.parseDouble("1e" + e));
      checkBoth(Double.parseDouble("9.999999999999999e" + e));
    }
    for (int e = -1074; e <= 1023; e++) {
      checkBoth(Math.scalb(1d, e));
    }
    for (long i = 0; i <= 1 << 17; i++) {
      check((double) i);
    }
    // every float widened: the double path on 24-bit significands
    for (long bits = 0; bits <= 0xFFFF_FFFFL; bits += 65_537) {
      float f = Float.intBitsToFloat((int) bits);
      if (Float.isFinite(f)) {
        check((double) f);
      }
    }
  }

  @Test
  void textIsAJsonNumber() {
    SplittableRandom rnd = new SplittableRandom(3);
    for (int i = 0; i < 100_000; i++) {
      float f = Float.intBitsToFloat(rnd.nextInt());
      if (Float.isFinite(f)) {
        assertThat(text(f)).matches(JSON_NUMBER);
      }
      double d = Double.longBitsToDouble(rnd.nextLong());
      if (Double.isFinite(d)) {
        assertThat(text(d)).matches(JSON_NUMBER);
      }
    }
  }

  @Test
  void nonFiniteIsRefused() {
    assertThatThrownBy(() -> ShortestDecimal.write(Float.NaN, out, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ShortestDecimal.write(Double.NEGATIVE_INFINITY, out, 0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void logarithmsAreExactOverTheExponentsUsed() {
    BigInteger two = BigInteger.TWO;
    for (int e = -1200; e <= 1200; e++) {
      // floor(log10(2^e)) and floor(log10(3/4 2^e)), from exact decimal comparisons
      BigDecimal p =
          e >= 0 ? new BigDecimal(two.pow(e)) : BigDecimal.ONE.divide(new BigDecimal(two.pow(-e)));
      assertThat(ShortestDecimal.Logs.floorLog10Pow2(e)).as("e=%d", e).isEqualTo(floorLog10(p));
      BigDecimal q = p.multiply(new BigDecimal("0.75"));
      assertThat(ShortestDecimal.Logs.floorLog10ThreeQuartersPow2(e))
          .as("3/4 e=%d", e)
          .isEqualTo(floorLog10(q));
    }
    for (int e = -400; e <= 400; e++) {
      int expected =
          e >= 0 ? BigInteger.TEN.pow(e).bitLength() - 1 : -BigInteger.TEN.pow(-e).bitLength();
      if (e == 0) {
        expected = 0;
      }
      assertThat(ShortestDecimal.Logs.floorLog2Pow10(e)).as("e=%d", e).isEqualTo(expected);
    }
  }

  /** floor(log10(p)) for p > 0: the position of its leading digit. */
  private static int floorLog10(BigDecimal p) {
    BigDecimal s = p.stripTrailingZeros();
    return s.precision() - s.scale() - 1;
  }
}
