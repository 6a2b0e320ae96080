package dev.knots.merge;

import java.io.Serializable;

/**
 * Finds the exact k-th smallest {@code |x|} of one task's vector when that vector is spread over
 * many modules, without gathering it. For non-negative doubles the IEEE-754 bit pattern orders like
 * the value, so the search fixes the bits of the answer 16 at a time: each round histograms the
 * next 16 bits of the magnitudes that share the bits fixed so far, and once at most {@link
 * candidateLimit} magnitudes remain it collects them and picks the answer. A search takes two
 * rounds on typical data and at most four.
 *
 * <p>Top-K follows the spec: {@code k = d - floor(d * topK / 100)}; entries with {@code |x| >= t}
 * are kept, where {@code t} is the k-th smallest magnitude (1-based).
 */
final class MagnitudeSelection implements Serializable {
  private static final long serialVersionUID = 1L;

  static final int BITS = 16;
  static final int BUCKETS = 1 << BITS;

  /**
   * Magnitudes collected at most, over all tasks searched together: 16 Mi doubles (128 MiB) on the
   * driver, which typically lets the second round collect instead of histogramming again.
   */
  static final long TOTAL_CANDIDATE_LIMIT = 1 << 24;

  private static final long MIN_CANDIDATE_LIMIT = 1 << 16;
  private static final int LEVELS = Long.SIZE / BITS;

  private final double keepFraction;
  private final long candidateLimit;

  /** How many 16-bit chunks of the answer are fixed. */
  private final int level;

  /** The fixed chunks, right-aligned. */
  private final long prefix;

  /**
   * The 1-based rank of the answer among magnitudes sharing {@link #prefix}; 0 before round one.
   */
  private final long rank;

  private final boolean collecting;
  private final double threshold;

  private MagnitudeSelection(
      double keepFraction,
      long candidateLimit,
      int level,
      long prefix,
      long rank,
      boolean collecting,
      double threshold) {
    this.keepFraction = keepFraction;
    this.candidateLimit = candidateLimit;
    this.level = level;
    this.prefix = prefix;
    this.rank = rank;
    this.collecting = collecting;
    this.threshold = threshold;
  }

  /**
   * A search for the threshold that keeps {@code keepFraction} of the entries (in (0, 1)), run
   * together with {@code searches - 1} others that share the candidate budget.
   */
  static MagnitudeSelection keeping(double keepFraction, int searches) {
    long limit = Math.max(MIN_CANDIDATE_LIMIT, TOTAL_CANDIDATE_LIMIT / Math.max(1, searches));
    return new MagnitudeSelection(keepFraction, limit, 0, 0, 0, false, Double.NaN);
  }

  /** The threshold of one array, by the same rounds: for per-module scope. */
  static double thresholdOf(double[] values, double keepFraction) {
    MagnitudeSelection search = keeping(keepFraction, 1);
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

  /** The k-th smallest magnitude; valid once {@link #done()}. */
  double threshold() {
    return threshold;
  }

  MagnitudeSummary emptySummary() {
    return collecting ? MagnitudeSummary.candidates() : MagnitudeSummary.histogram();
  }

  /** Adds the magnitudes of {@code values} that are still in the running to {@code summary}. */
  void accumulate(double[] values, MagnitudeSummary summary) {
    int shift = Long.SIZE - BITS * (level + 1);
    for (double value : values) {
      long bits = Double.doubleToRawLongBits(Math.abs(value));
      if (level > 0 && (bits >>> (shift + BITS)) != prefix) {
        continue;
      }
      if (collecting) {
        summary.add(Math.abs(value));
      } else {
        summary.count((int) ((bits >>> shift) & (BUCKETS - 1)));
      }
    }
  }

  /** The search after one round, given the round's summary merged over every module. */
  MagnitudeSelection next(MagnitudeSummary merged) {
    if (collecting) {
      double[] sorted = merged.sortedCandidates();
      return finished(sorted[(int) (rank - 1)]);
    }
    long[] counts = merged.counts();
    long wanted = rank;
    if (level == 0) {
      long total = 0;
      for (long c : counts) {
        total += c;
      }
      wanted = total - (long) (total * keepFraction);
      if (wanted == 0) {
        return finished(0.0);
      }
    }
    long below = 0;
    int bucket = 0;
    while (below + counts[bucket] < wanted) {
      below += counts[bucket++];
    }
    long nextPrefix = (prefix << BITS) | bucket;
    long nextRank = wanted - below;
    if (level + 1 == LEVELS) {
      return finished(Double.longBitsToDouble(nextPrefix));
    }
    boolean fewLeft = counts[bucket] <= candidateLimit;
    return new MagnitudeSelection(
        keepFraction, candidateLimit, level + 1, nextPrefix, nextRank, fewLeft, Double.NaN);
  }

  private MagnitudeSelection finished(double value) {
    return new MagnitudeSelection(keepFraction, candidateLimit, level, prefix, rank, false, value);
  }
}
