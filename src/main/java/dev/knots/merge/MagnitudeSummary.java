package dev.knots.merge;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
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

  /**
   * Allocated on first use, so an empty summary (Spark's zero value) ships as a few bytes; only the
   * range of non-empty buckets is serialized (see {@link #writeObject}).
   */
  private transient long[] histogram;

  private transient double[] candidates;
  private transient int candidateCount;

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

  /**
   * Magnitudes span few exponents, so a histogram is mostly empty: only its non-empty range and the
   * candidates in use go over the wire (kilobytes, not the 512 KiB of a full histogram).
   */
  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    int first = 0;
    int last = -1;
    if (histogram != null) {
      while (first < histogram.length && histogram[first] == 0) {
        first++;
      }
      last = histogram.length - 1;
      while (last >= first && histogram[last] == 0) {
        last--;
      }
    }
    out.writeInt(first);
    out.writeInt(last);
    for (int b = first; b <= last; b++) {
      out.writeLong(histogram[b]);
    }
    out.writeInt(candidateCount);
    for (int j = 0; j < candidateCount; j++) {
      out.writeDouble(candidates[j]);
    }
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    int first = in.readInt();
    int last = in.readInt();
    if (last >= first) {
      histogram = new long[MagnitudeSelection.BUCKETS];
      for (int b = first; b <= last; b++) {
        histogram[b] = in.readLong();
      }
    }
    candidateCount = in.readInt();
    if (candidateCount > 0) {
      candidates = new double[candidateCount];
      for (int j = 0; j < candidateCount; j++) {
        candidates[j] = in.readDouble();
      }
    }
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
