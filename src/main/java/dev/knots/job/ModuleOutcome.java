package dev.knots.job;

import java.io.Serializable;

/**
 * What became of one module: its shape, the KnOTS components aligned (0 for plain methods), the
 * merged rank written, and per task how many entries went into the merge.
 */
public record ModuleOutcome(
    String key, int out, int in, int components, int rank, long[] usedPerTask)
    implements Serializable {

  public static ModuleOutcome of(MergedModule merged) {
    return new ModuleOutcome(
        merged.key(),
        merged.out(),
        merged.in(),
        merged.components(),
        merged.rank(),
        merged.usedPerTask().clone());
  }
}
