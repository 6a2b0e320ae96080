package dev.knots.knots;

import dev.knots.linalg.Matrix;
import java.util.Objects;

/**
 * One task's LoRA update of one module in factored form, {@code dW = scale * b @ a}, shape {@code O
 * x I}: {@code b} is {@code O x r} (PEFT {@code lora_B}), {@code a} is {@code r x I} (PEFT {@code
 * lora_A}) and {@code scale} is PEFT's {@code alpha / r} or {@code alpha / sqrt(r)}. A task that
 * does not adapt the module has rank 0 ({@link #zero}).
 */
public record LoraFactors(Matrix b, Matrix a, double scale) implements TaskUpdate {

  /** Validates that {@code b.cols == a.rows} and that {@code scale} is finite. */
  public LoraFactors {
    Objects.requireNonNull(b, "b");
    Objects.requireNonNull(a, "a");
    if (b.cols != a.rows) {
      throw new IllegalArgumentException(
          "Cannot pair LoRA B "
              + b
              + " with A "
              + a
              + ": B has "
              + b.cols
              + " columns but A has "
              + a.rows
              + " rows (the rank).");
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
    return new LoraFactors(Matrix.zeros(out, 0), Matrix.zeros(0, in), 1.0);
  }

  /** Returns the LoRA rank {@code r}. */
  public int rank() {
    return a.rows;
  }

  /** Returns {@code O}, the rows of {@code dW}. */
  @Override
  public int outFeatures() {
    return b.rows;
  }

  /** Returns {@code I}, the columns of {@code dW}. */
  @Override
  public int inFeatures() {
    return a.cols;
  }

  /**
   * Returns the dense update {@code scale * b @ a}, {@code O x I}, float64. Costs {@code O*I}
   * memory; for tests and dense paths.
   */
  @Override
  public Matrix delta() {
    return b.multiply(a).scale(scale);
  }

  /**
   * Returns the factors of {@code dW^T = scale * a^T @ b^T}: {@code b' = a^T} ({@code I x r}),
   * {@code a' = b^T} ({@code r x O}).
   */
  public LoraFactors transpose() {
    return new LoraFactors(a.transpose(), b.transpose(), scale);
  }
}
