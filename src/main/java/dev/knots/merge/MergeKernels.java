package dev.knots.merge;

import java.util.Arrays;

/**
 * The combine step of {@link ModuleMerge} over float32 task vectors, as loops C2 (JDK 17)
 * vectorizes. Top-K keeps about one entry in five at random places and a kept entry's sign is a
 * coin toss, so a branch per entry mispredicts, and even branch-free index compaction costs a
 * scalar step per entry and task. Instead the vectors go through in blocks of {@link #BLOCK}
 * entries: per task, one scalar loop widens the block to double (C2 17 vectorizes no float to
 * double conversion, nor any loop that has one), and everything after it is double arithmetic on
 * whole blocks, which C2 does vectorize. Every choice is a 1 or a zero ({@link #positive}) and a
 * product with it; the loops index block-sized arrays from 0, as C2 17 vectorizes no loop that
 * indexes two arrays at different offsets.
 *
 * <p>Every result has the bits of the plain entry-by-entry loop: each sum runs over the tasks in
 * order, in double. The kernels add the zeros the plain loop leaves out (a dropped or disagreeing
 * value times 0): a running sum that starts at +0.0 is never -0.0 (round-to-nearest gives -0.0 only
 * for -0.0 + -0.0), and adding +0.0 or -0.0 leaves any other value unchanged, so adding signed
 * zeros changes no bit. That takes finite values: an infinite or NaN entry, or a NaN threshold,
 * makes some sum infinite or NaN, and then the module goes through the plain loop instead.
 */
final class MergeKernels {
  /**
   * Entries per block: a block's values for every task, and its sums, stay in the L1 cache (64 was
   * the fastest measured; smaller blocks pay more per call, larger ones more per entry).
   */
  static final int BLOCK = 64;

  /**
   * 2^-160: takes every magnitude the kernels test for a sign, from 2^-149 (the smallest nonzero
   * float, difference of floats, or sum of them) to 2^31 times the largest float, into (0, 1).
   */
  private static final double TINY = 0x1p-160;

  private MergeKernels() {}

  /**
   * The largest magnitude top-K drops: entries with {@code |v| > keepAbove} pass {@code |v| >=
   * threshold}, as floats are discrete; no comparison with NaN holds, so NaN keeps nothing.
   */
  static double keepAbove(float threshold) {
    if (Float.isNaN(threshold)) {
      return Double.POSITIVE_INFINITY;
    }
    return threshold > 0 ? Math.nextDown(threshold) : -1;
  }

  /**
   * Task arithmetic: sets {@code merged} (all +0.0) to the sum of {@code lambda_i * x_i[j]} over
   * the kept entries in task order, and {@code used} to how many entries each task kept. A task
   * that keeps every finite entry (top-K 100) needs no keep test, so its widening and adding are
   * one loop. Any infinite or NaN term makes a sum infinite or NaN, which {@code nonFinite} notes.
   */
  static void scaledSum(
      float[][] x, double[] keepAbove, double[] lambda, double[] merged, long[] used) {
    int n = x.length;
    double[] values = new double[BLOCK];
    double[] sums = new double[BLOCK];
    double[] nonFinite = new double[BLOCK];
    double[][] keptSoFar = new double[n][BLOCK];
    for (int from = 0; from < merged.length; from += BLOCK) {
      int size = Math.min(BLOCK, merged.length - from);
      for (int i = 0; i < n; i++) {
        if (keepAbove[i] < 0) {
          addAllScaled(x[i], from, size, lambda[i], sums);
        } else {
          widen(x[i], from, size, values);
          addKeptScaled(values, size, keepAbove[i], lambda[i], sums, keptSoFar[i]);
        }
      }
      for (int o = 0; o < size; o++) {
        nonFinite[o] += sums[o] * 0; // NaN once a sum is infinite or NaN
      }
      store(sums, merged, from, size);
    }
    if (!Double.isFinite(sum(nonFinite))) {
      Arrays.fill(merged, 0);
      Plain.scaledSum(x, keepAbove, lambda, merged, used);
      return;
    }
    for (int i = 0; i < n; i++) {
      used[i] = keepAbove[i] < 0 ? merged.length : (long) sum(keptSoFar[i]);
    }
  }

  /**
   * TIES: per entry, elects the sign of the pruned sum (the majority's where it is 0) and sets
   * {@code merged} (all +0.0) to the mean of {@code lambda_i * x_i[j]} over the kept entries of
   * that sign, setting {@code used} to how many each task gave. Zeros are never kept here: a zero
   * has no sign and never contributes (the reference's "!= 0").
   *
   * <p>Per block: per task, widen it, keep its values and add them into the pruned sums; elect the
   * signs; per task, add {@code lambda_i * x_i[j]} where the kept value agrees, and count it;
   * divide by the counts.
   *
   * @param majority the sign entries whose pruned sum is 0 take; 0 when pending
   */
  static SignVote disjointMean(
      float[][] x,
      double[] keepAbove,
      double[] lambda,
      int majority,
      double[] merged,
      long[] used) {
    int n = x.length;
    double[][] kept = new double[n][BLOCK];
    double[] pruned = new double[BLOCK];
    double[] keptCount = new double[BLOCK];
    double[] sign = new double[BLOCK];
    double[] sums = new double[BLOCK];
    double[] contributors = new double[BLOCK];
    double[][] usedSoFar = new double[n][BLOCK];
    double[] signSums = new double[BLOCK];
    double[] pendingKept = new double[BLOCK];
    for (int from = 0; from < merged.length; from += BLOCK) {
      int size = Math.min(BLOCK, merged.length - from);
      for (int i = 0; i < n; i++) {
        widen(x[i], from, size, kept[i]);
        prune(kept[i], size, Math.max(keepAbove[i], 0), pruned, keptCount);
      }
      elect(pruned, keptCount, size, majority, sign, signSums, pendingKept);
      for (int i = 0; i < n; i++) {
        addAgreeing(kept[i], size, sign, lambda[i], sums, contributors, usedSoFar[i]);
      }
      divide(sums, size, contributors);
      store(sums, merged, from, size);
    }
    double signSum = sum(signSums);
    if (!Double.isFinite(signSum)) {
      Arrays.fill(merged, 0);
      return Plain.disjointMean(x, keepAbove, lambda, majority, merged, used);
    }
    for (int i = 0; i < n; i++) {
      used[i] = (long) sum(usedSoFar[i]);
    }
    return new SignVote((long) signSum, majority == 0 && sum(pendingKept) > 0);
  }

  /**
   * The vote of {@link #disjointMean} with the majority pending (0), without merging: the pruned
   * sums' signs summed, and whether an entry's pruned sum cancelled while some task kept a value
   * there. Election uses the values before lambda, so no lambda is needed.
   */
  static SignVote vote(float[][] x, double[] keepAbove) {
    int n = x.length;
    int length = x.length == 0 ? 0 : x[0].length;
    double[] kept = new double[BLOCK];
    double[] pruned = new double[BLOCK];
    double[] keptCount = new double[BLOCK];
    double[] sign = new double[BLOCK];
    double[] signSums = new double[BLOCK];
    double[] pendingKept = new double[BLOCK];
    for (int from = 0; from < length; from += BLOCK) {
      int size = Math.min(BLOCK, length - from);
      for (int i = 0; i < n; i++) {
        widen(x[i], from, size, kept);
        prune(kept, size, Math.max(keepAbove[i], 0), pruned, keptCount);
      }
      elect(pruned, keptCount, size, 0, sign, signSums, pendingKept);
    }
    double signSum = sum(signSums);
    if (!Double.isFinite(signSum)) {
      return Plain.disjointMean(x, keepAbove, new double[n], 0, new double[length], new long[n]);
    }
    return new SignVote((long) signSum, sum(pendingKept) > 0);
  }

  /** {@code values[o] = task[from + o]}, a scalar loop (see the class comment). */
  private static void widen(float[] task, int from, int size, double[] values) {
    for (int o = 0; o < size; o++) {
      values[o] = task[from + o];
    }
  }

  /**
   * 1 where {@code x > 0}, else 0 or -0.0, for x that {@link #TINY} takes into (-1, 1): the product
   * rounds up to 1, or to a zero. (Unlike a comparison, or {@code Math.max} on AVX2, this is two
   * plain vector instructions.)
   */
  private static double positive(double x) {
    return Math.ceil(x * TINY);
  }

  /** The sign of x, 1, -1 or 0, for x as in {@link #positive}. */
  private static double signOf(double x) {
    double scaled = x * TINY;
    return Math.ceil(scaled) + Math.floor(scaled);
  }

  /** {@code sums[o] += lambda * task[from + o]}: a scalar loop, as it widens. */
  private static void addAllScaled(float[] task, int from, int size, double lambda, double[] sums) {
    for (int o = 0; o < size; o++) {
      sums[o] += lambda * task[from + o];
    }
  }

  /** {@code sums[o] += lambda * v} over the kept values, counting them in {@code keptSoFar}. */
  private static void addKeptScaled(
      double[] values,
      int size,
      double keepAbove,
      double lambda,
      double[] sums,
      double[] keptSoFar) {
    for (int o = 0; o < size; o++) {
      double v = values[o];
      double keep = positive(Math.abs(v) - keepAbove);
      sums[o] += lambda * (v * keep);
      keptSoFar[o] += keep;
    }
  }

  /**
   * Sets the block's values to their kept values (a signed zero where dropped), adds them into the
   * pruned sums and counts them.
   */
  private static void prune(
      double[] values, int size, double keepAbove, double[] pruned, double[] keptCount) {
    for (int o = 0; o < size; o++) {
      double keep = positive(Math.abs(values[o]) - keepAbove);
      values[o] *= keep;
      pruned[o] += values[o];
      keptCount[o] += keep;
    }
  }

  /**
   * Sets {@code sign} to the elected sign of each pruned sum, 1 or -1, or the majority where the
   * sum is 0; adds the sums' own signs to {@code signSums} and, where a sum is 0, its kept count to
   * {@code pendingKept} (those entries need the majority if it is pending). Clears the sums and
   * counts for the next block.
   */
  private static void elect(
      double[] pruned,
      double[] keptCount,
      int size,
      int majority,
      double[] sign,
      double[] signSums,
      double[] pendingKept) {
    for (int o = 0; o < size; o++) {
      double own = signOf(pruned[o]);
      double zero = 1 - Math.abs(own);
      sign[o] = own + zero * majority;
      signSums[o] += own;
      pendingKept[o] += zero * keptCount[o];
      pruned[o] = 0;
      keptCount[o] = 0;
    }
  }

  /**
   * Adds {@code lambda * v} into {@code sums[o]} where the kept value {@code v} has the elected
   * sign (a signed zero elsewhere, which changes nothing), counting it per entry and task.
   */
  private static void addAgreeing(
      double[] kept,
      int size,
      double[] sign,
      double lambda,
      double[] sums,
      double[] contributors,
      double[] usedSoFar) {
    for (int o = 0; o < size; o++) {
      double agrees = positive(kept[o] * sign[o]);
      sums[o] += kept[o] * agrees * lambda;
      contributors[o] += agrees;
      usedSoFar[o] += agrees;
    }
  }

  /**
   * {@code sums[o] /= contributors[o]} where any contributed (elsewhere the sum is +0.0, and stays
   * so divided by 1); clears the counts for the next block.
   */
  private static void divide(double[] sums, int size, double[] contributors) {
    for (int o = 0; o < size; o++) {
      sums[o] /= Math.max(contributors[o], 1);
      contributors[o] = 0;
    }
  }

  /**
   * Copies the block's sums to {@code merged} and clears them for the next block. The kernels add
   * into a block-sized array: C2 17 vectorizes no loop that indexes two arrays at different
   * offsets.
   */
  private static void store(double[] sums, double[] merged, int from, int size) {
    System.arraycopy(sums, 0, merged, from, size);
    Arrays.fill(sums, 0);
  }

  /** Sums whole numbers, exactly below 2^53 in any order; infinite or NaN if one of them is. */
  private static double sum(double[] counts) {
    double sum = 0;
    for (double count : counts) {
      sum += count;
    }
    return sum;
  }

  /** The plain entry-by-entry loops, for the modules with an infinite or NaN value. */
  private static final class Plain {
    static void scaledSum(
        float[][] x, double[] keepAbove, double[] lambda, double[] merged, long[] used) {
      for (int j = 0; j < merged.length; j++) {
        for (int i = 0; i < x.length; i++) {
          float v = x[i][j];
          if (Math.abs(v) > keepAbove[i]) {
            merged[j] += lambda[i] * v;
            used[i]++;
          }
        }
      }
    }

    static SignVote disjointMean(
        float[][] x,
        double[] keepAbove,
        double[] lambda,
        int majority,
        double[] merged,
        long[] used) {
      long signSum = 0;
      boolean needsMajority = false;
      for (int j = 0; j < merged.length; j++) {
        double pruned = 0;
        boolean kept = false;
        for (int i = 0; i < x.length; i++) {
          float v = x[i][j];
          if (Math.abs(v) > Math.max(keepAbove[i], 0)) {
            pruned += v;
            kept = true;
          }
        }
        if (pruned != pruned) {
          continue; // +inf + -inf: no sign, so no entry agrees
        }
        int own = (int) Math.signum(pruned);
        signSum += own;
        needsMajority |= own == 0 && majority == 0 && kept;
        int sign = own == 0 ? majority : own;
        double sum = 0;
        int count = 0;
        for (int i = 0; i < x.length; i++) {
          float v = x[i][j];
          if (Math.abs(v) > Math.max(keepAbove[i], 0) && (int) Math.signum(v) == sign) {
            sum += lambda[i] * v;
            count++;
            used[i]++;
          }
        }
        merged[j] = count == 0 ? 0 : sum / count;
      }
      return new SignVote(signSum, needsMajority);
    }
  }
}
