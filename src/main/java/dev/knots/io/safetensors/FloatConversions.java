package dev.knots.io.safetensors;

/**
 * Bit-exact conversions between Java floating point and the narrow formats stored in safetensors
 * files: IEEE binary16 ("float16", {@link DType#F16}), bfloat16 ({@link DType#BF16}) and the two
 * 8-bit float formats.
 *
 * <p>Narrowing rounds to nearest, ties to even, in one step from the {@code double} value (as NumPy
 * and PyTorch do), so no double rounding through {@code float} happens. Values beyond the largest
 * finite value become infinity; values below half the smallest subnormal become signed zero; NaN
 * stays NaN (quiet, sign and the top payload bits kept). Widening is exact.
 */
public final class FloatConversions {

  private FloatConversions() {}

  /** The float16 with bits {@code bits} (sign, 5 exponent bits, 10 mantissa bits) as a float. */
  public static float float16ToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exponent = (h >>> 10) & 0x1f;
    int mantissa = h & 0x3ff;
    if (exponent == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
    }
    if (exponent == 0) {
      // subnormal: mantissa * 2^-24, exact in float
      float magnitude = mantissa * 0x1p-24f;
      return sign == 0 ? magnitude : -magnitude;
    }
    return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
  }

  /** Bits of the float16 nearest to {@code value} (ties to even). */
  public static short floatToFloat16(float value) {
    return doubleToFloat16(value);
  }

  /** Bits of the float16 nearest to {@code value} (ties to even), rounded once. */
  public static short doubleToFloat16(double value) {
    return (short) narrow(value, 5, 10);
  }

  /** The bfloat16 with bits {@code bits} (the upper half of a float) as a float. */
  public static float bfloat16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** Bits of the bfloat16 nearest to {@code value} (ties to even). */
  public static short floatToBFloat16(float value) {
    return doubleToBFloat16(value);
  }

  /** Bits of the bfloat16 nearest to {@code value} (ties to even), rounded once. */
  public static short doubleToBFloat16(double value) {
    return (short) narrow(value, 8, 7);
  }

  /**
   * The E4M3FN 8-bit float with bits {@code bits} as a float: bias 7, subnormals, no infinities,
   * NaN only for exponent and mantissa all ones.
   */
  public static float float8E4M3ToFloat(byte bits) {
    int b = bits & 0xff;
    int exponent = (b >>> 3) & 0xf;
    int mantissa = b & 0x7;
    float magnitude;
    if (exponent == 0xf && mantissa == 0x7) {
      magnitude = Float.NaN;
    } else if (exponent == 0) {
      magnitude = mantissa * 0x1p-9f;
    } else {
      magnitude = Math.scalb(1.0f + mantissa / 8.0f, exponent - 7);
    }
    return (b & 0x80) == 0 ? magnitude : -magnitude;
  }

  /** The E5M2 8-bit float with bits {@code bits} as a float; it is the upper byte of a float16. */
  public static float float8E5M2ToFloat(byte bits) {
    return float16ToFloat((short) ((bits & 0xff) << 8));
  }

  /**
   * Rounds {@code value} to a binary format with the given field widths (at most 8 exponent and 23
   * mantissa bits) and returns its bits in the low bits of the result.
   */
  private static int narrow(double value, int exponentBits, int mantissaBits) {
    long bits = Double.doubleToRawLongBits(value);
    int sign = (int) (bits >>> 63) << (exponentBits + mantissaBits);
    int exponent = (int) (bits >>> 52) & 0x7ff;
    long mantissa = bits & 0x000f_ffff_ffff_ffffL;
    int maxExponent = (1 << exponentBits) - 1;
    int infinity = sign | (maxExponent << mantissaBits);
    if (exponent == 0x7ff) {
      if (mantissa == 0) {
        return infinity;
      }
      return infinity | (1 << (mantissaBits - 1)) | (int) (mantissa >>> (52 - mantissaBits));
    }
    int biased = exponent - 1023 + (maxExponent >> 1);
    if (biased >= maxExponent) {
      return infinity;
    }
    long significand;
    int dropped;
    int base;
    if (biased >= 1) {
      significand = mantissa;
      dropped = 52 - mantissaBits;
      base = biased << mantissaBits;
    } else {
      // subnormal in the target format: shift the implicit leading 1 in as well
      significand = mantissa | (1L << 52);
      dropped = 52 - mantissaBits + 1 - biased;
      base = 0;
      if (dropped > 53) {
        return sign;
      }
    }
    long kept = significand >>> dropped;
    long remainder = significand & ((1L << dropped) - 1);
    long halfway = 1L << (dropped - 1);
    if (remainder > halfway || (remainder == halfway && (kept & 1) == 1)) {
      kept++; // a carry into the exponent field is the correct next value, up to infinity
    }
    return sign | (base + (int) kept);
  }
}
