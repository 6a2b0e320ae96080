package dev.knots.spark;

import dev.knots.io.IoCounters;
import java.io.Serializable;
import org.apache.spark.util.LongAccumulator;

/** Byte counters backed by Spark accumulators, so executor I/O adds up on the driver. */
final class AccumulatorCounters implements IoCounters, Serializable {
  private static final long serialVersionUID = 1L;
  private final LongAccumulator read;
  private final LongAccumulator written;

  AccumulatorCounters(LongAccumulator read, LongAccumulator written) {
    this.read = read;
    this.written = written;
  }

  @Override
  public void read(long bytes) {
    read.add(bytes);
  }

  @Override
  public void written(long bytes) {
    written.add(bytes);
  }
}
