package dev.knots.io;

import java.io.Serializable;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where a {@link CountingFileStore} reports the bytes it reads and writes. Calls come from many
 * threads; implementations add up (a Spark job backs them with accumulators).
 */
public interface IoCounters {

  /** {@code bytes} more were read. */
  void read(long bytes);

  /** {@code bytes} more were written. */
  void written(long bytes);

  /** Counters that add up in this JVM. */
  final class Totals implements IoCounters, Serializable {
    private static final long serialVersionUID = 1L;

    private final LongAdder read = new LongAdder();
    private final LongAdder written = new LongAdder();

    @Override
    public void read(long bytes) {
      read.add(bytes);
    }

    @Override
    public void written(long bytes) {
      written.add(bytes);
    }

    /** Bytes read so far. */
    public long bytesRead() {
      return read.sum();
    }

    /** Bytes written so far. */
    public long bytesWritten() {
      return written.sum();
    }

    @Override
    public String toString() {
      return "read " + bytesRead() + " B, written " + bytesWritten() + " B";
    }
  }
}
