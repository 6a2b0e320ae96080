package dev.knots.merge;

import java.io.Serializable;
import java.util.Arrays;

/**
 * One round's summary of the magnitudes that can still hold the k-th smallest: either a histogram
 * over the next 16 bits of {@code |x|}, or (once few remain) the magnitudes themselves. Merging
 * adds histograms or concatenates candidates, so the order modules are summarised in does not
 * matter.
 */
final class MagnitudeSummary implements Serializable {
  private static final long serialVersionUID = 1L;

  private final boolean isHistogram;

  /** Allocated on first use, so an empty summary (Spark's zero value) ships as a few bytes. */
  private long[] histogram;

  private double[] candidates;
  private int candidateCount;

  private MagnitudeSummary(boolean isHistogram) {
    this.isHistogram = isHistogram;
  }

  static MagnitudeSummary histogram() {
    return new MagnitudeSummary(true);
  }

  static MagnitudeSummary candidates() {
    return new MagnitudeSummary(false);
  }

  boolean isHistogram() {
    return isHistogram;
  }

  void count(int bucket) {
    if (histogram == null) {
      histogram = new long[MagnitudeSelection.BUCKETS];
    }
    histogram[bucket]++;
  }

  void add(double magnitude) {
    if (candidates == null) {
      candidates = new double[16];
    } else if (candidateCount == candidates.length) {
      candidates = Arrays.copyOf(candidates, candidates.length * 2);
    }
    candidates[candidateCount++] = magnitude;
  }

  long[] counts() {
    return histogram == null ? new long[MagnitudeSelection.BUCKETS] : histogram;
  }

  /** The collected magnitudes, sorted ascending. */
  double[] sortedCandidates() {
    double[] sorted =
        candidates == null ? new double[0] : Arrays.copyOf(candidates, candidateCount);
    Arrays.sort(sorted);
    return sorted;
  }

  MagnitudeSummary merge(MagnitudeSummary other) {
    if (isHistogram) {
      if (histogram == null) {
        histogram = other.histogram == null ? null : other.histogram.clone();
      } else if (other.histogram != null) {
        for (int b = 0; b < histogram.length; b++) {
          histogram[b] += other.histogram[b];
        }
      }
    } else {
      for (int j = 0; j < other.candidateCount; j++) {
        add(other.candidates[j]);
      }
    }
    return this;
  }
}
