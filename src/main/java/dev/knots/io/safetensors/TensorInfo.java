package dev.knots.io.safetensors;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor entry of a safetensors header.
 *
 * @param name the tensor name (the header key)
 * @param dtype element type
 * @param shape dimensions, outermost first; values are stored row-major (C order); {@code []} is a
 *     scalar
 * @param begin first byte of the tensor, relative to the start of the data section (as in the
 *     header's {@code data_offsets})
 * @param end one past the last byte, relative to the start of the data section
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end)
    implements Serializable {

  public TensorInfo {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = shape.clone();
  }

  /** The dimensions (a copy). */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Number of dimensions. */
  public int rank() {
    return shape.length;
  }

  /** Product of the dimensions (1 for a scalar). */
  public long elementCount() {
    return elementCount(shape);
  }

  /** {@code end - begin}: the number of bytes of the tensor's data. */
  public long byteLength() {
    return end - begin;
  }

  /** For a 2-D tensor, the number of rows ({@code shape[0]}). */
  public int rows() {
    return matrixDimension(0);
  }

  /** For a 2-D tensor, the number of columns ({@code shape[1]}). */
  public int cols() {
    return matrixDimension(1);
  }

  /** The shape as text, for example {@code [32, 64]}. */
  public String shapeText() {
    return Arrays.toString(shape);
  }

  /**
   * Product of {@code shape}.
   *
   * @throws ArithmeticException if it does not fit in a {@code long}
   */
  static long elementCount(long[] shape) {
    long count = 1;
    for (long dimension : shape) {
      count = Math.multiplyExact(count, dimension);
    }
    return count;
  }

  private int matrixDimension(int index) {
    if (shape.length != 2) {
      throw new IllegalStateException(
          "Cannot use tensor '"
              + name
              + "' as a matrix: its shape "
              + shapeText()
              + " has "
              + shape.length
              + " dimensions, not 2.");
    }
    if (shape[index] > Integer.MAX_VALUE) {
      throw new IllegalStateException(
          "Cannot use tensor '"
              + name
              + "' as a matrix: dimension "
              + shape[index]
              + " of shape "
              + shapeText()
              + " exceeds "
              + Integer.MAX_VALUE
              + ".");
    }
    return (int) shape[index];
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TensorInfo that
        && name.equals(that.name)
        && dtype == that.dtype
        && Arrays.equals(shape, that.shape)
        && begin == that.begin
        && end == that.end;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
  }

  @Override
  public String toString() {
    return name + " " + dtype + shapeText() + " @[" + begin + ", " + end + ")";
  }
}
