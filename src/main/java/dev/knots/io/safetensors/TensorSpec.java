package dev.knots.io.safetensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor to be written: name, element type and shape (outermost first, values row-major).
 *
 * @param name the tensor name; not empty and not {@code __metadata__}
 * @param dtype element type
 * @param shape non-negative dimensions
 */
public record TensorSpec(String name, DType dtype, long[] shape) {

  public TensorSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    if (name.isEmpty() || name.equals(SafetensorsHeader.METADATA_KEY)) {
      throw new IllegalArgumentException(
          "Cannot write a tensor named \"" + name + "\": reserved or empty name.");
    }
    shape = shape.clone();
    for (long dimension : shape) {
      if (dimension < 0) {
        throw new IllegalArgumentException(
            "Cannot write tensor '"
                + name
                + "': negative dimension in shape "
                + Arrays.toString(shape)
                + ".");
      }
    }
    byteLength(dtype, shape, name); // fails early if the size overflows
  }

  /** A 2-D tensor of {@code rows x cols}. */
  public static TensorSpec matrix(String name, DType dtype, long rows, long cols) {
    return new TensorSpec(name, dtype, new long[] {rows, cols});
  }

  /** The spec of an existing tensor, for copying it to another file. */
  public static TensorSpec of(TensorInfo info) {
    return new TensorSpec(info.name(), info.dtype(), info.shape());
  }

  /** The dimensions (a copy). */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Product of the dimensions. */
  public long elementCount() {
    return TensorInfo.elementCount(shape);
  }

  /** Bytes the tensor occupies in the data section. */
  public long byteLength() {
    return byteLength(dtype, shape, name);
  }

  private static long byteLength(DType dtype, long[] shape, String name) {
    try {
      return Math.multiplyExact(TensorInfo.elementCount(shape), dtype.byteSize());
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "Cannot write tensor '" + name + "': shape " + Arrays.toString(shape) + " is too large.",
          e);
    }
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof TensorSpec that
        && name.equals(that.name)
        && dtype == that.dtype
        && Arrays.equals(shape, that.shape);
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape));
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape);
  }
}
