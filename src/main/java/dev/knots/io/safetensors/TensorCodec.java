package dev.knots.io.safetensors;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Little-endian element encoding and decoding between tensor bytes and Java arrays. */
final class TensorCodec {

  /**
   * Little-endian elements of a byte array: plain loads and stores, no buffer position to maintain.
   */
  private static final VarHandle FLOAT =
      MethodHandles.byteArrayViewVarHandle(float[].class, ByteOrder.LITTLE_ENDIAN);

  private static final VarHandle DOUBLE =
      MethodHandles.byteArrayViewVarHandle(double[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle SHORT =
      MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.LITTLE_ENDIAN);

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
    byte[] bytes = new byte[Math.multiplyExact(count, dtype.byteSize())];
    for (int i = 0; i < count; i++) {
      put(dtype, bytes, i, values[from + i]);
    }
    return bytes;
  }

  /**
   * Encodes the column-major {@code rows x cols} matrix {@code values} (entry {@code (i, j)} at
   * {@code i + j * rows}) as a writable {@code dtype} in row-major order: the transpose a
   * column-major matrix needs on its way to a file, done in the one pass that encodes it. The
   * tiling is {@code Matrix.transpose}'s (io cannot use linalg): square tiles with the innermost
   * loop along the longer side; a strip of rows written along at once is 1.5 times slower for a 96
   * x 4096 factor, its rows being a power of two apart.
   */
  static byte[] encodeColumnMajor(DType dtype, double[] values, int rows, int cols) {
    if ((long) rows * cols != values.length) {
      throw new IllegalArgumentException(
          "Cannot encode " + values.length + " values as a " + rows + "x" + cols + " matrix");
    }
    byte[] bytes = new byte[Math.multiplyExact(values.length, dtype.byteSize())];
    final int tile = 32;
    for (int i0 = 0; i0 < rows; i0 += tile) {
      int i1 = Math.min(rows, i0 + tile);
      for (int j0 = 0; j0 < cols; j0 += tile) {
        int j1 = Math.min(cols, j0 + tile);
        if (rows > cols) {
          for (int j = j0; j < j1; j++) {
            int from = j * rows;
            for (int i = i0; i < i1; i++) {
              put(dtype, bytes, i * cols + j, values[from + i]);
            }
          }
        } else {
          for (int i = i0; i < i1; i++) {
            int to = i * cols;
            for (int j = j0; j < j1; j++) {
              put(dtype, bytes, to + j, values[j * rows + i]);
            }
          }
        }
      }
    }
    return bytes;
  }

  /** Stores {@code value} as element {@code index} of {@code bytes}, rounding to nearest even. */
  private static void put(DType dtype, byte[] bytes, int index, double value) {
    switch (dtype) {
      case F32 -> FLOAT.set(bytes, 4 * index, (float) value);
      case F64 -> DOUBLE.set(bytes, 8 * index, value);
      case F16 -> SHORT.set(bytes, 2 * index, FloatConversions.doubleToFloat16(value));
      case BF16 -> SHORT.set(bytes, 2 * index, FloatConversions.doubleToBFloat16(value));
      default -> throw new IllegalArgumentException("Cannot encode values as " + dtype);
    }
  }
}
