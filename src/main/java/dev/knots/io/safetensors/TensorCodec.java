package dev.knots.io.safetensors;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Little-endian element encoding and decoding between tensor bytes and Java arrays. */
final class TensorCodec {

  /** Float32 elements of a byte array: plain loads and stores, no buffer position to maintain. */
  private static final VarHandle FLOAT =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  private TensorCodec() {}

  /** Decodes {@code dst.length} elements of a floating-point {@code dtype} from {@code src}. */
  static void decode(DType dtype, byte[] src, double[] dst) {
    ByteBuffer in = ByteBuffer.wrap(src).order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case F64 -> in.asDoubleBuffer().get(dst);
      case F32 -> {
        for (int i = 0; i < dst.length; i++) {
          dst[i] = (float) FLOAT.get(src, 4 * i);
        }
      }
      case F16 -> {
        for (int i = 0; i < dst.length; i++) {
          dst[i] = FloatConversions.float16ToFloat(in.getShort(2 * i));
        }
      }
      case BF16 -> {
        for (int i = 0; i < dst.length; i++) {
          dst[i] = FloatConversions.bfloat16ToFloat(in.getShort(2 * i));
        }
      }
      case F8_E4M3 -> {
        for (int i = 0; i < dst.length; i++) {
          dst[i] = FloatConversions.float8E4M3ToFloat(src[i]);
        }
      }
      case F8_E5M2 -> {
        for (int i = 0; i < dst.length; i++) {
          dst[i] = FloatConversions.float8E5M2ToFloat(src[i]);
        }
      }
      default ->
          throw new IllegalArgumentException("Cannot decode " + dtype + " as floating point");
    }
  }

  /**
   * Decodes {@code dst.length} elements of a floating-point {@code dtype}, narrowing F64 to float.
   */
  static void decode(DType dtype, byte[] src, float[] dst) {
    if (dtype == DType.F32) {
      ByteBuffer.wrap(src).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst);
      return;
    }
    double[] wide = new double[dst.length];
    decode(dtype, src, wide);
    for (int i = 0; i < dst.length; i++) {
      dst[i] = (float) wide[i];
    }
  }

  /**
   * Encodes {@code values[from .. from + count)} as a writable {@code dtype}, rounding to nearest
   * even.
   */
  static byte[] encode(DType dtype, double[] values, int from, int count) {
    if (dtype == DType.F32) {
      byte[] bytes = new byte[Math.multiplyExact(count, 4)];
      for (int i = 0; i < count; i++) {
        FLOAT.set(bytes, 4 * i, (float) values[from + i]);
      }
      return bytes;
    }
    ByteBuffer out =
        ByteBuffer.allocate(Math.multiplyExact(count, dtype.byteSize()))
            .order(ByteOrder.LITTLE_ENDIAN);
    switch (dtype) {
      case F64 -> {
        for (int i = 0; i < count; i++) {
          out.putDouble(values[from + i]);
        }
      }
      case F16 -> {
        for (int i = 0; i < count; i++) {
          out.putShort(FloatConversions.doubleToFloat16(values[from + i]));
        }
      }
      case BF16 -> {
        for (int i = 0; i < count; i++) {
          out.putShort(FloatConversions.doubleToBFloat16(values[from + i]));
        }
      }
      default -> throw new IllegalArgumentException("Cannot encode values as " + dtype);
    }
    return out.array();
  }
}
