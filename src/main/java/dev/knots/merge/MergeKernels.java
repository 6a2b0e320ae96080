package dev.knots.merge;

/**
 * The combine step of {@link ModuleMerge} over float32 task vectors, without unpredictable
 * branches. Top-K keeps about one entry in five at random places and a kept entry's sign is a coin
 * toss, so a loop with a branch per test mispredicts about once per entry and task. Instead the
 * vectors go through in blocks of {@link #BLOCK} entries: per task, a branch-free pass compacts the
 * indices of the kept entries ({@code kept[c] = j; c += keep}, see {@link #compact}), and only
 * those are then added, task after task, into the block's sums; the remaining choices are integer
 * masks. (The keep test compares float bits as integers: C2 compiles a {@code cond ? 1 : 0} on
 * floats to a branch or not depending on its profile, and a branch there doubles the compaction's
 * cost.)
 *
 * <p>Every result has the bits of the plain entry-by-entry loop: each sum runs over the tasks in
 * order, in double. The kernels leave out terms the plain loop adds as zero: a running sum that
 * starts at +0.0 is never -0.0 (round-to-nearest gives -0.0 only for -0.0 + -0.0), and adding +0.0
 * or -0.0 leaves any other value unchanged, so leaving out (or adding) signed zeros changes no bit.
 */
final class MergeKernels {
  /** Entries per block: the block's sums, counts and kept indices stay in the core's caches. */
  static final int BLOCK = 1024;

  private static final int MAGNITUDE = 0x7FFF_FFFF;
  private static final int INFINITY_BITS = 0x7F80_0000;

  /**
   * Elected sign codes: the sign bit of the entries that contribute, or none (a 0 pruned sum while
   * the majority is pending, or a NaN one).
   */
  private static final int POSITIVE = 0;

  private static final int NEGATIVE = 1;
  private static final int PENDING = 2;
  private static final int UNDEFINED = 4;

  private MergeKernels() {}

  /**
   * The smallest magnitude bits an entry needs to pass {@code |v| >= threshold}: for non-negative
   * floats the bit pattern orders like the value, and no comparison with NaN holds.
   */
  static int keepFrom(float threshold) {
    if (Float.isNaN(threshold)) {
      return INFINITY_BITS + 1; // above every non-NaN magnitude: keeps nothing
    }
    return threshold > 0 ? Float.floatToRawIntBits(threshold) : 0;
  }

  /**
   * Task arithmetic: adds {@code lambda_i * x_i[j]} over the kept entries into {@code merged} (all
   * +0.0) in task order, and counts per task the entries kept.
   */
  static void scaledSum(
      float[][] x, int[] keepFrom, double[] lambda, double[] merged, long[] used) {
    int[] kept = new int[BLOCK];
    for (int from = 0; from < merged.length; from += BLOCK) {
      int to = Math.min(from + BLOCK, merged.length);
      for (int i = 0; i < x.length; i++) {
        if (keepFrom[i] == 0) {
          used[i] += addAllScaled(x[i], from, to, lambda[i], merged);
        } else {
          int count = compact(x[i], from, to, keepFrom[i], kept, 0);
          addScaled(x[i], kept, 0, count, lambda[i], merged);
          used[i] += count;
        }
      }
    }
  }

  /**
   * TIES: per entry, elects the sign of the pruned sum (the majority's where it is 0) and sets
   * {@code merged} (all +0.0) to the mean of {@code lambda_i * x_i[j]} over the kept entries of
   * that sign, counting them per task in {@code used}. Zeros are never kept here: a zero has no
   * sign and never contributes (the reference's "!= 0").
   *
   * <p>Per block: per task, compact the kept entries and add them into the pruned sums; elect the
   * signs; per task, add {@code lambda_i * x_i[j]} where the kept entry agrees, and count it;
   * divide by the counts.
   *
   * @param majority the sign entries whose pruned sum is 0 take; 0 when pending
   */
  static SignVote disjointMean(
      float[][] x, int[] keepFrom, double[] lambda, int majority, double[] merged, long[] used) {
    int n = x.length;
    int[] kept = new int[n * BLOCK];
    int[] counts = new int[n];
    double[] pruned = new double[BLOCK];
    int[] elected = new int[BLOCK];
    int[] contributors = new int[BLOCK];
    Tally tally = new Tally(majority > 0 ? POSITIVE : majority < 0 ? NEGATIVE : PENDING);
    for (int from = 0; from < merged.length; from += BLOCK) {
      int to = Math.min(from + BLOCK, merged.length);
      for (int i = 0; i < n; i++) {
        counts[i] = compact(x[i], from, to, Math.max(keepFrom[i], 1), kept, i * BLOCK);
        addPruned(x[i], kept, i * BLOCK, counts[i], from, pruned);
      }
      elect(pruned, to - from, elected, tally);
      for (int i = 0; i < n; i++) {
        used[i] +=
            addAgreeing(
                x[i],
                kept,
                i * BLOCK,
                counts[i],
                lambda[i],
                from,
                elected,
                merged,
                contributors,
                tally);
      }
      divide(merged, from, to, contributors);
    }
    return new SignVote(tally.signSum, tally.needsMajority);
  }

  /**
   * Writes to {@code kept[at..]} the indices {@code j} in {@code [from, to)} where {@code
   * |task[j]|} has at least the bits {@code keepFrom} (and is not NaN), in order; returns how many.
   * The store is unconditional and the count grows by 0 or 1, so nothing depends on a branch.
   */
  static int compact(float[] task, int from, int to, int keepFrom, int[] kept, int at) {
    // keepFrom <= magnitude <= infinity as one unsigned comparison: magnitude - keepFrom < span.
    long span = INFINITY_BITS - keepFrom + 1L;
    int c = at;
    for (int j = from; j < to; j++) {
      int magnitude = Float.floatToRawIntBits(task[j]) & MAGNITUDE;
      kept[c] = j;
      c += (int) ((Integer.toUnsignedLong(magnitude - keepFrom) - span) >>> 63);
    }
    return c - at;
  }

  /**
   * {@code merged[j] += lambda * task[j]} over {@code [from, to)} except at NaN, which is what a
   * threshold of 0 keeps (top-K 100); returns how many. Here compacting would only cost: the branch
   * is always taken.
   */
  private static int addAllScaled(float[] task, int from, int to, double lambda, double[] merged) {
    int count = 0;
    for (int j = from; j < to; j++) {
      float v = task[j];
      if (v == v) {
        merged[j] += lambda * v;
        count++;
      }
    }
    return count;
  }

  /** {@code merged[j] += lambda * task[j]} over the kept indices. */
  private static void addScaled(
      float[] task, int[] kept, int at, int count, double lambda, double[] merged) {
    for (int k = at; k < at + count; k++) {
      int j = kept[k];
      merged[j] += lambda * task[j];
    }
  }

  /** {@code pruned[j - from] += task[j]} over the kept indices. */
  private static void addPruned(
      float[] task, int[] kept, int at, int count, int from, double[] pruned) {
    for (int k = at; k < at + count; k++) {
      int j = kept[k];
      pruned[j - from] += task[j];
    }
  }

  /** The sign vote so far, and the code an entry whose pruned sum is 0 takes (the majority). */
  private static final class Tally {
    final int zeroSign;
    long signSum;
    boolean needsMajority;

    Tally(int zeroSign) {
      this.zeroSign = zeroSign;
    }
  }

  /**
   * Codes the elected sign of each of the block's {@code size} pruned sums into {@code elected},
   * adds their signs to the tally, and clears the sums for the next block. A pruned sum is never
   * -0.0 (see the class comment), so its sign bit and whether its bits are 0 give its sign.
   */
  private static void elect(double[] pruned, int size, int[] elected, Tally tally) {
    int zeroSign = tally.zeroSign;
    long signSum = 0;
    for (int o = 0; o < size; o++) {
      double p = pruned[o];
      pruned[o] = 0;
      if (p != p) {
        elected[o] = UNDEFINED; // +inf + -inf: Math.signum gives NaN, which no sign equals
        continue;
      }
      long bits = Double.doubleToRawLongBits(p);
      int negative = (int) (bits >>> 63);
      int nonZero = (int) ((bits | -bits) >>> 63);
      signSum += nonZero - 2 * negative;
      elected[o] = negative | ((nonZero - 1) & zeroSign);
    }
    tally.signSum += signSum;
  }

  /**
   * Adds {@code lambda * task[j]} into {@code merged[j]} over the kept indices whose sign agrees
   * with the elected one (+0.0 elsewhere, which changes nothing), counting them per entry; returns
   * how many agreed. A kept entry whose sign waits for a pending majority (its pruned sum cancelled
   * exactly) is what makes the tally need the majority.
   */
  private static int addAgreeing(
      float[] task,
      int[] kept,
      int at,
      int count,
      double lambda,
      int from,
      int[] elected,
      double[] merged,
      int[] contributors,
      Tally tally) {
    int agreeing = 0;
    int seen = 0;
    for (int k = at; k < at + count; k++) {
      int j = kept[k];
      float v = task[j];
      int code = elected[j - from];
      // 1 when v's sign bit is the elected code (0 or 1), 0 for any other code.
      int agrees = (((Float.floatToRawIntBits(v) >>> 31) ^ code) - 1) >>> 31;
      long mask = -(long) agrees;
      merged[j] += Double.longBitsToDouble(Double.doubleToRawLongBits(lambda * v) & mask);
      contributors[j - from] += agrees;
      agreeing += agrees;
      seen |= code;
    }
    tally.needsMajority |= (seen & PENDING) != 0;
    return agreeing;
  }

  /**
   * {@code merged[j] /= contributors} where any contributed, +0.0 elsewhere (where the sum is +0.0
   * and the quotient NaN, masked off); clears the counts for the next block.
   */
  private static void divide(double[] merged, int from, int to, int[] contributors) {
    for (int j = from; j < to; j++) {
      int c = contributors[j - from];
      contributors[j - from] = 0;
      long some = -(long) ((-c) >>> 31);
      merged[j] = Double.longBitsToDouble(Double.doubleToRawLongBits(merged[j] / c) & some);
    }
  }
}
