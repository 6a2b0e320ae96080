package dev.knots.knots;

import dev.knots.linalg.Matrix;
import java.util.Objects;

/**
 * One task's representation {@code R_i} in a KnOTS alignment. From LoRA factors it is kept as the
 * product {@code coefficients @ factorTransposed^T} ({@code k x r_i} times the transpose of the
 * task's own {@code w x r_i} factor, as the adapter file stores it), which is a few kilobytes where
 * {@code R_i} is {@code k x w}; the merge needs it only as float32, which {@link #toFloats}
 * computes without a float64 copy of {@code R_i}. From dense updates it is the matrix itself
 * ({@code factorTransposed} null).
 */
public record Representation(Matrix coefficients, Matrix factorTransposed) {

  /** Validates that the product is defined. */
  public Representation {
    Objects.requireNonNull(coefficients, "coefficients");
    if (factorTransposed != null && coefficients.cols != factorTransposed.cols) {
      throw new IllegalArgumentException(
          "Cannot form a representation from "
              + coefficients
              + " coefficients and a transposed "
              + factorTransposed
              + " factor: the inner dimensions differ.");
    }
  }

  /** {@code r} itself. */
  public static Representation of(Matrix r) {
    return new Representation(r, null);
  }

  public int rows() {
    return coefficients.rows;
  }

  public int cols() {
    return factorTransposed == null ? coefficients.cols : factorTransposed.rows;
  }

  /** {@code R_i} in float64 (a new matrix for the factored form). */
  public Matrix matrix() {
    return factorTransposed == null
        ? coefficients
        : coefficients.multiplyTranspose(factorTransposed);
  }

  /** {@code R_i} rounded to float32, in its column-major order. */
  public float[] toFloats() {
    return factorTransposed == null
        ? coefficients.toFloats()
        : coefficients.multiplyTransposeToFloats(factorTransposed);
  }
}
