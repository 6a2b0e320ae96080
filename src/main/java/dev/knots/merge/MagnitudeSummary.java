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

  private final long[] histogram;
  private double[] candidates;
  private int candidateCount;

  private MagnitudeSummary(long[] histogram, double[] candidates) {
    this.histogram = histogram;
    this.candidates = candidates;
  }

  static MagnitudeSummary histogram() {
    return new MagnitudeSummary(new long[MagnitudeSelection.BUCKETS], null);
  }

  static MagnitudeSummary candidates() {
    return new MagnitudeSummary(null, new double[16]);
  }

  boolean isHistogram() {
    return histogram != null;
  }

  void count(int bucket) {
    histogram[bucket]++;
  }

  void add(double magnitude) {
    if (candidateCount == candidates.length) {
      candidates = Arrays.copyOf(candidates, candidates.length * 2);
    }
    candidates[candidateCount++] = magnitude;
  }

  long[] counts() {
    return histogram;
  }

  /** The collected magnitudes, sorted ascending. */
  double[] sortedCandidates() {
    double[] sorted = Arrays.copyOf(candidates, candidateCount);
    Arrays.sort(sorted);
    return sorted;
  }

  MagnitudeSummary merge(MagnitudeSummary other) {
    if (isHistogram()) {
      for (int b = 0; b < histogram.length; b++) {
        histogram[b] += other.histogram[b];
      }
    } else {
      for (int j = 0; j < other.candidateCount; j++) {
        add(other.candidates[j]);
      }
    }
    return this;
  }
}
