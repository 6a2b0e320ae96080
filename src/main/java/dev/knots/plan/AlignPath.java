package dev.knots.plan;

import java.util.Locale;

/** How a module's task representations are computed. */
public enum AlignPath {
  /** KnOTS from the LoRA factors: the exact factor-space joint SVD, in one task. */
  FACTOR,
  /** KnOTS from dense updates: the SVD of the stacked matrix, in one task. */
  DENSE,
  /** Plain methods: the updates {@code dW_i} themselves, no joint SVD. */
  NONE;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
