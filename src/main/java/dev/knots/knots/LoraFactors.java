package dev.knots.knots;

import dev.knots.linalg.Matrix;
import java.util.Objects;

/**
 * One task's LoRA update of one module in factored form, {@code dW = scale * b @ a}, shape {@code O
 * x I}: {@code b} is {@code O x r} (PEFT {@code lora_B}), {@code a} is {@code r x I} (PEFT {@code
 * lora_A}) and {@code scale} is PEFT's {@code alpha / r} or {@code alpha / sqrt(r)}. {@code a} is
 * kept as its transpose {@code aTransposed} ({@code I x r}): that is what the row-major {@code
 * lora_A} of an adapter file already is in column-major order, and what the joint SVD factors, so
 * neither reading nor aligning transposes it. A task that does not adapt the module has rank 0
 * ({@link #zero}).
 */
public record LoraFactors(Matrix b, Matrix aTransposed, double scale) implements TaskUpdate {

  /** Validates that {@code b.cols == aTransposed.cols} and that {@code scale} is finite. */
  public LoraFactors {
    Objects.requireNonNull(b, "b");
    Objects.requireNonNull(aTransposed, "aTransposed");
    if (b.cols != aTransposed.cols) {
      throw new IllegalArgumentException(
          "Cannot pair LoRA B "
              + b
              + " with A^T "
              + aTransposed
              + ": B has "
              + b.cols
              + " columns but A^T has "
              + aTransposed.cols
              + " (the rank).");
    }
    if (!Double.isFinite(scale)) {
      throw new IllegalArgumentException("Cannot use LoRA scale " + scale + ": it must be finite.");
    }
  }

  /**
   * Returns rank-0 factors ({@code b} {@code out x 0}, {@code a} {@code 0 x in}): the update is
   * zero.
   */
  public static LoraFactors zero(int out, int in) {
    return new LoraFactors(Matrix.zeros(out, 0), Matrix.zeros(in, 0), 1.0);
  }

  /** Returns the LoRA rank {@code r}. */
  public int rank() {
    return b.cols;
  }

  /** Returns {@code O}, the rows of {@code dW}. */
  @Override
  public int outFeatures() {
    return b.rows;
  }

  /** Returns {@code I}, the columns of {@code dW}. */
  @Override
  public int inFeatures() {
    return aTransposed.rows;
  }

  /**
   * Returns the dense update {@code scale * b @ a}, {@code O x I}, float64. Costs {@code O*I}
   * memory; for tests and dense paths.
   */
  @Override
  public Matrix delta() {
    return b.multiplyTranspose(aTransposed).scale(scale);
  }

  /**
   * Returns the factors of {@code dW^T = scale * a^T @ b^T}: {@code b' = a^T} ({@code I x r}) and
   * {@code a'^T = b} ({@code O x r}), the same matrices swapped, so nothing is copied.
   */
  public LoraFactors transpose() {
    return new LoraFactors(aTransposed, b, scale);
  }
}
