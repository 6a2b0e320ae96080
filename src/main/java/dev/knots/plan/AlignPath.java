package dev.knots.plan;

import dev.knots.merge.InvalidOptionException;
import java.util.Locale;
import java.util.Optional;

/** How a module's task representations are computed. */
public enum AlignPath {
  /** KnOTS from the LoRA factors: the exact factor-space joint SVD, in one task. */
  FACTOR,
  /** KnOTS from dense updates: the SVD of the stacked matrix, in one task. */
  DENSE,
  /**
   * KnOTS for a module too large for one task: MLlib's SVD of the stacked matrix's Gramian, with
   * rows read and projected by many tasks. Spark only; the single-process merge runs it as DENSE.
   */
  DISTRIBUTED,
  /** Plain methods: the updates {@code dW_i} themselves, no joint SVD. */
  NONE;

  /** The {@code --align-path} value: {@code auto} (empty), factor, dense or distributed. */
  public static Optional<AlignPath> parseOption(String value) {
    String v = value.toLowerCase(Locale.ROOT);
    for (AlignPath path : new AlignPath[] {FACTOR, DENSE, DISTRIBUTED}) {
      if (path.label().equals(v)) {
        return Optional.of(path);
      }
    }
    if (v.equals("auto")) {
      return Optional.empty();
    }
    throw new InvalidOptionException(
        "--align-path", value, "must be auto, factor, dense or distributed");
  }

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
