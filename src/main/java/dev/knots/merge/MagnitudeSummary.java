package dev.knots.merge;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.ByteBuffer;

/**
 * One selection round's histogram of the magnitudes still in the running (see {@link
 * MagnitudeSelection}). Merging adds counts, so the order modules are summarised in does not
 * matter.
 */
final class MagnitudeSummary implements Serializable {
  private static final long serialVersionUID = 3L;

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
   * histogram). The payload is encoded into one array and written with one call, rather than a call
   * per bucket, which would make the object stream's block-data path hot in every task.
   */
  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    byte[] payload = encode();
    out.writeInt(payload.length);
    out.write(payload);
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    byte[] payload = new byte[in.readInt()];
    in.readFully(payload);
    decode(ByteBuffer.wrap(payload));
  }

  /**
   * Sparse: a flag, the count of non-empty buckets, then (bucket int, count long) for each. Range:
   * a flag, the first and last non-empty bucket (last below first when empty), then their counts.
   */
  private byte[] encode() {
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
    int range = last - first + 1;
    boolean sparse = 12L * nonEmpty < 8L * range;
    if (sparse) {
      ByteBuffer payload = ByteBuffer.allocate(1 + Integer.BYTES + 12 * nonEmpty);
      payload.put((byte) 1).putInt(nonEmpty);
      for (int b = first; b <= last; b++) {
        if (counts[b] != 0) {
          payload.putInt(b).putLong(counts[b]);
        }
      }
      return payload.array();
    }
    ByteBuffer payload = ByteBuffer.allocate(1 + 2 * Integer.BYTES + 8 * range);
    payload.put((byte) 0).putInt(first).putInt(last);
    if (range > 0) {
      payload.asLongBuffer().put(counts, first, range);
    }
    return payload.array();
  }

  private void decode(ByteBuffer payload) {
    if (payload.get() != 0) {
      int nonEmpty = payload.getInt();
      counts = new long[buckets];
      for (int k = 0; k < nonEmpty; k++) {
        int bucket = payload.getInt();
        counts[bucket] = payload.getLong();
      }
      return;
    }
    int first = payload.getInt();
    int last = payload.getInt();
    if (last >= first) {
      counts = new long[buckets];
      payload.asLongBuffer().get(counts, first, last - first + 1);
    }
  }
}
