package dev.knots.merge;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;

/**
 * One selection round's histogram of the magnitudes still in the running (see {@link
 * MagnitudeSelection}). Merging adds counts, so the order modules are summarised in does not
 * matter.
 */
final class MagnitudeSummary implements Serializable {
  private static final long serialVersionUID = 2L;

  private final int buckets;

  /**
   * Allocated on first use, so an empty summary (Spark's zero value) ships as a few bytes; only the
   * range of non-empty buckets is serialized (see {@link #writeObject}).
   */
  private transient long[] counts;

  MagnitudeSummary(int buckets) {
    this.buckets = buckets;
  }

  /** The counts, all zero if nothing was counted. */
  long[] counts() {
    return counts == null ? new long[buckets] : counts;
  }

  /** The counts, to add to. */
  long[] countsForUpdate() {
    if (counts == null) {
      counts = new long[buckets];
    }
    return counts;
  }

  MagnitudeSummary merge(MagnitudeSummary other) {
    if (other.counts == null) {
      return this;
    }
    long[] mine = countsForUpdate();
    for (int b = 0; b < buckets; b++) {
      mine[b] += other.counts[b];
    }
    return this;
  }

  /**
   * Magnitudes span few exponents, so a histogram is mostly empty: only its non-empty range goes
   * over the wire, or only its non-empty buckets when fewer (kilobytes, not the 512 KiB of a full
   * histogram).
   */
  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    int first = 0;
    int last = -1;
    int nonEmpty = 0;
    if (counts != null) {
      while (first < buckets && counts[first] == 0) {
        first++;
      }
      last = buckets - 1;
      while (last >= first && counts[last] == 0) {
        last--;
      }
      for (int b = first; b <= last; b++) {
        nonEmpty += counts[b] == 0 ? 0 : 1;
      }
    }
    // A round-two histogram spreads few magnitudes over the whole low-bits range: list those.
    boolean sparse = 12L * nonEmpty < 8L * (last - first + 1);
    out.writeBoolean(sparse);
    if (sparse) {
      out.writeInt(nonEmpty);
      for (int b = first; b <= last; b++) {
        if (counts[b] != 0) {
          out.writeInt(b);
          out.writeLong(counts[b]);
        }
      }
      return;
    }
    out.writeInt(first);
    out.writeInt(last);
    for (int b = first; b <= last; b++) {
      out.writeLong(counts[b]);
    }
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    if (in.readBoolean()) {
      int nonEmpty = in.readInt();
      counts = new long[buckets];
      for (int k = 0; k < nonEmpty; k++) {
        int bucket = in.readInt();
        counts[bucket] = in.readLong();
      }
      return;
    }
    int first = in.readInt();
    int last = in.readInt();
    if (last >= first) {
      counts = new long[buckets];
      for (int b = first; b <= last; b++) {
        counts[b] = in.readLong();
      }
    }
  }
}
