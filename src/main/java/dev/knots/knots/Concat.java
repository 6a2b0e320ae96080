package dev.knots.knots;

import dev.knots.linalg.Matrix;

/**
 * Which way the task updates {@code dW_i} ({@code O x I}) are stacked for the joint SVD. Everything
 * orientation-specific goes through {@link #orient}, so the rest of the code works on "oriented"
 * updates of shape {@code stacked x width}.
 */
public enum Concat {
  /**
   * {@code M = [dW_1 | ... | dW_n]}, {@code O x (n*I)}: U spans outputs, {@code R_i} is {@code k x
   * I}. The default.
   */
  OUTPUT,
  /**
   * {@code M = [dW_1^T | ... | dW_n^T]}, {@code I x (n*O)}: U spans inputs, {@code R_i} is {@code k
   * x O}.
   */
  INPUT;

  /**
   * Returns the update in this orientation: {@code dW} itself for OUTPUT, {@code dW^T} for INPUT.
   * Applying it again turns an oriented matrix back into {@code O x I}. Returns {@code dW} itself
   * (not a copy) for OUTPUT; {@code dW} is never modified.
   */
  public Matrix orient(Matrix dW) {
    return this == OUTPUT ? dW : dW.transpose();
  }

  /**
   * Returns the factors of the oriented update: {@code f} itself for OUTPUT, {@link
   * LoraFactors#transpose()} for INPUT.
   */
  public LoraFactors orient(LoraFactors f) {
    return this == OUTPUT ? f : f.transpose();
  }
}
