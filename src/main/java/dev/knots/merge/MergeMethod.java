package dev.knots.merge;

import java.io.Serializable;

/**
 * A way of turning n task representations into one. Every method here is the same generalized task
 * arithmetic (optional DARE, top-K pruning, optional sign election, then a combine rule), applied
 * either to the plain updates {@code dW_i} or to the KnOTS-aligned representations {@code R_i}. See
 * {@code docs/merging.md}.
 */
public interface MergeMethod extends Serializable {

  /** The name users pass to {@code --method}. */
  String name();

  /** One line for {@code --help}. */
  String summary();

  /** Where the method comes from. */
  String reference();

  /** True when the method merges KnOTS-aligned representations instead of plain updates. */
  boolean aligned();

  /** True when entries are randomly dropped and rescaled (DARE) before anything else. */
  boolean dropsAndRescales();

  Combine combine();

  /** True when the method elects a sign per entry (TIES). */
  default boolean electsSign() {
    return combine() == Combine.DISJOINT_MEAN;
  }
}
