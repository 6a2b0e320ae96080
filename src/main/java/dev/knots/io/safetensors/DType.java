package dev.knots.io.safetensors;

import dev.knots.io.FileFormatException;

/**
 * Element types of the safetensors format, named as in its header ({@code "dtype": "F32"}).
 *
 * <p>The floating-point types can be read as {@code double}; {@link #F64}, {@link #F32}, {@link
 * #F16} and {@link #BF16} can also be written. The integer, boolean and 8-bit float types are known
 * so that headers containing them validate and their bytes can be copied unchanged.
 */
public enum DType {
  F64(8, true, true),
  F32(4, true, true),
  F16(2, true, true),
  BF16(2, true, true),
  /** 8-bit float, 4 exponent and 3 mantissa bits, no infinities (OCP "E4M3FN"). */
  F8_E4M3(1, true, false),
  /** 8-bit float, 5 exponent and 2 mantissa bits (the upper byte of a float16). */
  F8_E5M2(1, true, false),
  I64(8, false, false),
  I32(4, false, false),
  I16(2, false, false),
  I8(1, false, false),
  U64(8, false, false),
  U32(4, false, false),
  U16(2, false, false),
  U8(1, false, false),
  BOOL(1, false, false);

  private final int byteSize;
  private final boolean isFloat;
  private final boolean isWritable;

  DType(int byteSize, boolean isFloat, boolean isWritable) {
    this.byteSize = byteSize;
    this.isFloat = isFloat;
    this.isWritable = isWritable;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** Whether values of this type are floating point and can be read as {@code double}. */
  public boolean isFloat() {
    return isFloat;
  }

  /**
   * Whether {@code double} values can be converted to this type when writing (F64, F32, F16, BF16).
   */
  public boolean isWritable() {
    return isWritable;
  }

  /**
   * The type named {@code name} in a safetensors header (case-sensitive, as the format requires).
   *
   * @param tensor the tensor whose entry holds the name, for the message
   * @param location the file, for the message
   * @throws FileFormatException naming the dtype, tensor and file if the name is unknown
   */
  public static DType parse(String name, String tensor, String location)
      throws FileFormatException {
    for (DType type : values()) {
      if (type.name().equals(name)) {
        return type;
      }
    }
    throw new FileFormatException(
        "Cannot read tensor '"
            + tensor
            + "' of "
            + location
            + ": unknown dtype \""
            + name
            + "\". Known dtypes: F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U64, U32, U16, U8, BOOL.");
  }
}
