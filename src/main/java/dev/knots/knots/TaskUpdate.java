package dev.knots.knots;

import dev.knots.linalg.Matrix;

/**
 * One task's update of one module, {@code dW} ({@code O x I}), in the form its source holds it:
 * LoRA factors ({@link LoraFactors}) or the dense matrix of a full fine-tune ({@link DenseUpdate}).
 */
public sealed interface TaskUpdate permits LoraFactors, DenseUpdate {

  /** Returns {@code O}, the rows of {@code dW}. */
  int outFeatures();

  /** Returns {@code I}, the columns of {@code dW}. */
  int inFeatures();

  /** Returns {@code dW} as a dense float64 matrix. */
  Matrix delta();
}
