package dev.knots.merge;

import java.io.Serializable;

/**
 * Finds the exact k-th smallest {@code |x|} of one task's vector when that vector is spread over
 * many modules, without gathering it. Entries are float32 (see {@link ModuleVectors}), and for
 * non-negative floats the IEEE-754 bit pattern orders like the value, so two histogram rounds fix
 * the answer's 31 magnitude bits: round one counts the high 16 bits (the exponent and 8 leading
 * mantissa bits) of every magnitude, round two the low 15 bits of those in the bucket that holds
 * the k-th. Each round ships one histogram per task, never the values.
 *
 * <p>Top-K follows docs/merging.md: {@code k = d - (long) (d * K)} with {@code K = topK / 100} in
 * float64; entries with {@code |x| >= t} are kept, where {@code t} is the k-th smallest magnitude
 * (1-based).
 */
final class MagnitudeSelection implements Serializable {
  private static final long serialVersionUID = 2L;

  private static final int LOW_BITS = 15;
  static final int HIGH_BUCKETS = 1 << 16;
  static final int LOW_BUCKETS = 1 << LOW_BITS;
  private static final int MAGNITUDE = 0x7FFF_FFFF;

  private final double keepFraction;

  /** Round two: the high 16 bits of the answer are fixed to {@link #prefix}. */
  private final boolean refining;

  private final int prefix;

  /** The 1-based rank of the answer among the magnitudes in bucket {@link #prefix}. */
  private final long rank;

  private final double threshold;

  private MagnitudeSelection(
      double keepFraction, boolean refining, int prefix, long rank, double threshold) {
    this.keepFraction = keepFraction;
    this.refining = refining;
    this.prefix = prefix;
    this.rank = rank;
    this.threshold = threshold;
  }

  /** A search for the threshold that keeps {@code keepFraction} of the entries (in (0, 1)). */
  static MagnitudeSelection keeping(double keepFraction) {
    return new MagnitudeSelection(keepFraction, false, 0, 0, Double.NaN);
  }

  /** The threshold of one array, by the same rounds: for per-module scope. */
  static double thresholdOf(float[] values, double keepFraction) {
    MagnitudeSelection search = keeping(keepFraction);
    while (!search.done()) {
      MagnitudeSummary summary = search.emptySummary();
      search.accumulate(values, summary);
      search = search.next(summary);
    }
    return search.threshold();
  }

  boolean done() {
    return !Double.isNaN(threshold);
  }

  /** The k-th smallest magnitude (a float32 value); valid once {@link #done()}. */
  double threshold() {
    return threshold;
  }

  /**
   * What this search counts in its next round: equal keys count the same magnitudes into the same
   * buckets, so searches for several fractions over the same vectors share a round's histogram.
   */
  Object roundKey() {
    return refining ? prefix : -1;
  }

  MagnitudeSummary emptySummary() {
    return new MagnitudeSummary(refining ? LOW_BUCKETS : HIGH_BUCKETS);
  }

  /** Counts the magnitudes of {@code values} that are still in the running into {@code summary}. */
  void accumulate(float[] values, MagnitudeSummary summary) {
    long[] counts = summary.countsForUpdate();
    if (!refining) {
      for (float value : values) {
        counts[(Float.floatToRawIntBits(value) & MAGNITUDE) >>> LOW_BITS]++;
      }
      return;
    }
    for (float value : values) {
      int bits = Float.floatToRawIntBits(value) & MAGNITUDE;
      if (bits >>> LOW_BITS == prefix) {
        counts[bits & (LOW_BUCKETS - 1)]++;
      }
    }
  }

  /** The search after one round, given the round's summary merged over every module. */
  MagnitudeSelection next(MagnitudeSummary merged) {
    long[] counts = merged.counts();
    long wanted = rank;
    if (!refining) {
      long total = 0;
      for (long c : counts) {
        total += c;
      }
      wanted = total - (long) (total * keepFraction);
      if (wanted == 0) {
        return new MagnitudeSelection(keepFraction, false, 0, 0, 0.0);
      }
    }
    long below = 0;
    int bucket = 0;
    while (below + counts[bucket] < wanted) {
      below += counts[bucket++];
    }
    if (refining) {
      float answer = Float.intBitsToFloat(prefix << LOW_BITS | bucket);
      return new MagnitudeSelection(keepFraction, true, prefix, rank, answer);
    }
    return new MagnitudeSelection(keepFraction, true, bucket, wanted - below, Double.NaN);
  }
}
