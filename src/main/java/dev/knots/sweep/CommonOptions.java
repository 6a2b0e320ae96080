package dev.knots.sweep;

import java.util.Optional;
import java.util.OptionalInt;

/**
 * The merge options a sweep file gives at its top level, outside the grid: they apply to every
 * point, as the merge options of the same names ({@code --exclude}, ...). Absent: the merge's
 * default.
 */
public record CommonOptions(
    Optional<String> exclude,
    Optional<String> vectors,
    OptionalInt loraRank,
    Optional<String> alignPath,
    Optional<String> taskMemory,
    Optional<String> driverMemoryBudget,
    boolean skipUnsupported) {

  /** Every option at its default. */
  public static CommonOptions defaults() {
    return new CommonOptions(
        Optional.empty(),
        Optional.empty(),
        OptionalInt.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        false);
  }
}
