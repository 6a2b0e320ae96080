package dev.knots.io.safetensors;

import static dev.knots.io.safetensors.FloatConversions.bfloat16ToFloat;
import static dev.knots.io.safetensors.FloatConversions.doubleToBFloat16;
import static dev.knots.io.safetensors.FloatConversions.doubleToFloat16;
import static dev.knots.io.safetensors.FloatConversions.float16ToFloat;
import static dev.knots.io.safetensors.FloatConversions.float8E4M3ToFloat;
import static dev.knots.io.safetensors.FloatConversions.float8E5M2ToFloat;
import static dev.knots.io.safetensors.FloatConversions.floatToBFloat16;
import static dev.knots.io.safetensors.FloatConversions.floatToFloat16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Known bit patterns (IEEE 754 binary16, bfloat16, OCP 8-bit floats). The conversions were also
 * compared once, outside the test suite, with NumPy (float16, all 65536 patterns and 2 million
 * doubles) and PyTorch (bfloat16, float8): no difference.
 */
class FloatConversionsTest {

  private static void assertHalf(int expectedBits, double value) {
    assertEquals(
        expectedBits,
        doubleToFloat16(value) & 0xffff,
        () -> value + " -> 0x" + Integer.toHexString(doubleToFloat16(value) & 0xffff));
    if ((float) value == value) {
      assertEquals(expectedBits, floatToFloat16((float) value) & 0xffff, () -> "float " + value);
    }
  }

  private static void assertBf16(int expectedBits, double value) {
    assertEquals(
        expectedBits,
        doubleToBFloat16(value) & 0xffff,
        () -> value + " -> 0x" + Integer.toHexString(doubleToBFloat16(value) & 0xffff));
    if ((float) value == value) {
      assertEquals(expectedBits, floatToBFloat16((float) value) & 0xffff, () -> "float " + value);
    }
  }

  @Test
  void float16NormalValues() {
    assertHalf(0x3c00, 1.0);
    assertHalf(0xc000, -2.0);
    assertHalf(0x3555, 1.0 / 3);
    assertHalf(0x2e66, 0.1);
    assertHalf(0x7bff, 65504.0); // largest finite
    assertHalf(0x0400, 0x1p-14); // smallest normal
    assertHalf(0x0000, 0.0);
    assertHalf(0x8000, -0.0);
  }

  @Test
  void float16SubnormalsAndUnderflow() {
    assertHalf(0x0001, 0x1p-24); // smallest subnormal
    assertHalf(0x03ff, 1023 * 0x1p-24); // largest subnormal
    assertHalf(0x0000, 0x1p-25); // exactly half the smallest: tie to even (zero)
    assertHalf(0x0001, 0x1p-25 * 1.0000001); // just above half: rounds up
    assertHalf(0x0002, 3 * 0x1p-25); // tie between 1 and 2 ulps: even
    assertHalf(0x8000, -1e-30);
    assertHalf(0x0400, 0x1p-14 - 0x1p-26); // rounds up from the subnormal range into the normals
    assertEquals(0x1p-24f, float16ToFloat((short) 0x0001));
    assertEquals(-1023 * 0x1p-24f, float16ToFloat((short) 0x83ff));
  }

  @Test
  void float16RoundsTiesToEven() {
    assertHalf(0x3c00, 1 + 0x1p-11); // halfway between 0x3c00 and 0x3c01: even is 0x3c00
    assertHalf(0x3c02, 1 + 3 * 0x1p-11); // halfway between 0x3c01 and 0x3c02: even is 0x3c02
    assertHalf(0x3c01, 1 + 0x1p-11 + 0x1p-40); // above halfway
    // float32 would round 1 + 2^-11 + 2^-40 to the tie and then to 0x3c00: double rounding is
    // avoided
    assertEquals(0x3c00, floatToFloat16((float) (1 + 0x1p-11 + 0x1p-40)) & 0xffff);
  }

  @Test
  void float16InfinityAndNan() {
    assertHalf(0x7c00, Double.POSITIVE_INFINITY);
    assertHalf(0xfc00, Double.NEGATIVE_INFINITY);
    assertHalf(0x7c00, 65520.0); // halfway between 65504 and the next power: rounds to infinity
    assertHalf(0x7bff, 65519.99);
    assertHalf(0x7c00, 1e300);
    assertEquals(0x7e00, doubleToFloat16(Double.NaN) & 0xffff);
    assertTrue(Float.isNaN(float16ToFloat((short) 0x7e00)));
    assertTrue(Float.isNaN(float16ToFloat((short) 0xfc01)));
    assertEquals(Float.POSITIVE_INFINITY, float16ToFloat((short) 0x7c00));
    assertEquals(Float.NEGATIVE_INFINITY, float16ToFloat((short) 0xfc00));
  }

  @Test
  void float16RoundTripsEveryPattern() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float value = float16ToFloat((short) bits);
      if (!Float.isNaN(value)) {
        assertEquals(
            bits, floatToFloat16(value) & 0xffff, "pattern 0x" + Integer.toHexString(bits));
      }
    }
  }

  @Test
  void bfloat16KnownPatterns() {
    assertBf16(0x3f80, 1.0);
    assertBf16(0xc000, -2.0);
    assertBf16(0x4049, Math.PI); // 3.140625
    assertBf16(0x3f80, 1 + 0x1p-8); // tie: even
    assertBf16(0x3f82, 1 + 3 * 0x1p-8); // tie: even
    assertBf16(0x3f81, 1 + 0x1p-8 + 0x1p-30);
    assertBf16(0x7f80, Float.MAX_VALUE); // rounds past the largest finite bfloat16
    assertBf16(0x7f7f, 0x1.fep127);
    assertBf16(0x0001, 0x1p-133); // smallest subnormal
    assertBf16(0x0000, 0x1p-134); // half of it: tie to even
    assertBf16(0xff80, Double.NEGATIVE_INFINITY);
    assertEquals(0x7fc0, doubleToBFloat16(Double.NaN) & 0xffff);
    assertEquals(0x7fc0, floatToBFloat16(Float.NaN) & 0xffff);
    assertEquals(3.140625f, bfloat16ToFloat((short) 0x4049));
    assertEquals(0x1p-133f, bfloat16ToFloat((short) 0x0001));
  }

  @Test
  void bfloat16RoundTripsEveryPattern() {
    for (int bits = 0; bits < 0x10000; bits++) {
      float value = bfloat16ToFloat((short) bits);
      if (!Float.isNaN(value)) {
        assertEquals(
            bits, floatToBFloat16(value) & 0xffff, "pattern 0x" + Integer.toHexString(bits));
      }
    }
  }

  @Test
  void eightBitFloats() {
    assertEquals(1.0f, float8E4M3ToFloat((byte) 0x38));
    assertEquals(448.0f, float8E4M3ToFloat((byte) 0x7e)); // largest finite
    assertEquals(0x1p-9f, float8E4M3ToFloat((byte) 0x01)); // smallest subnormal
    assertEquals(-1.75f, float8E4M3ToFloat((byte) 0xbe));
    assertTrue(Float.isNaN(float8E4M3ToFloat((byte) 0x7f)));
    assertEquals(1.0f, float8E5M2ToFloat((byte) 0x3c));
    assertEquals(57344.0f, float8E5M2ToFloat((byte) 0x7b));
    assertEquals(Float.POSITIVE_INFINITY, float8E5M2ToFloat((byte) 0x7c));
  }
}
