package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.ForwardingFileStore;
import dev.knots.io.InputFile;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.TaskContext;

/**
 * A store whose tasks of one partition fail in their first attempt when they open a file: a task
 * that throws, so that tests see Spark retry it. The driver and other partitions read as usual.
 */
final class FirstAttemptFails extends ForwardingFileStore {
  private static final long serialVersionUID = 1L;

  /** Failures injected in this JVM (local mode runs the tasks here). */
  static final AtomicInteger INJECTED = new AtomicInteger();

  private final int partition;

  FirstAttemptFails(FileStore delegate, int partition) {
    super(delegate);
    this.partition = partition;
  }

  @Override
  public InputFile inputFile(String location) {
    failInFirstAttempt(location);
    return super.inputFile(location);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    failInFirstAttempt(location);
    return super.inputFile(location, knownLength);
  }

  private void failInFirstAttempt(String location) {
    TaskContext task = TaskContext.get();
    if (task != null && task.partitionId() == partition && task.attemptNumber() == 0) {
      INJECTED.incrementAndGet();
      throw new IllegalStateException(
          "Injected failure of the first attempt of partition " + partition + " at " + location);
    }
  }
}
