package dev.knots.knots;

import dev.knots.linalg.Matrix;
import java.util.Objects;

/** A task update held densely, as a full fine-tune gives it: {@code dW = finetuned - base}. */
public record DenseUpdate(Matrix delta) implements TaskUpdate {

  public DenseUpdate {
    Objects.requireNonNull(delta, "delta");
  }

  @Override
  public int outFeatures() {
    return delta.rows;
  }

  @Override
  public int inFeatures() {
    return delta.cols;
  }
}
