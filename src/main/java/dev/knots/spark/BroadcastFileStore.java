package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.InputFile;
import dev.knots.io.OutputFile;
import java.io.IOException;
import java.io.Serializable;
import java.util.List;
import java.util.Objects;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * A {@link FileStore} that reaches executors as a Spark broadcast, as Spark ships its own Hadoop
 * configurations: a task's closure carries only the broadcast's handle (about a kilobyte, mostly
 * class descriptors), and each executor fetches and deserializes the store once, shared by all its
 * tasks. Capturing the store itself would make every task deserialize the whole Hadoop
 * configuration it holds (hundreds of properties: 36 KB serialized from the defaults, 110 KB from a
 * Spark application's).
 *
 * <p>Wrap it in the job's {@link dev.knots.io.CountingFileStore}, never the other way round: the
 * counters' accumulators must travel in each task's closure to be registered with that task.
 *
 * <p>The driver's instance keeps the original store, so the driver can use it also after {@link
 * #destroy}; a deserialized instance resolves the broadcast on first use.
 */
final class BroadcastFileStore implements FileStore, Serializable {
  private static final long serialVersionUID = 1L;

  private final Broadcast<? extends FileStore> broadcast;

  /** The store: the original on the driver, the broadcast's value once resolved in a task. */
  private transient volatile FileStore store;

  private BroadcastFileStore(Broadcast<? extends FileStore> broadcast, FileStore store) {
    this.broadcast = broadcast;
    this.store = store;
  }

  /** Broadcasts {@code store} for the tasks of this job. */
  static <S extends FileStore & Serializable> BroadcastFileStore of(JavaSparkContext jsc, S store) {
    Objects.requireNonNull(store, "store");
    return new BroadcastFileStore(jsc.broadcast(store), store);
  }

  /**
   * Removes the broadcast from the executors and the driver, once no task of the job can run any
   * more (a task retried after this would fail to resolve the store). The driver's instance keeps
   * working.
   */
  void destroy() {
    broadcast.destroy();
  }

  private FileStore store() {
    FileStore current = store;
    if (current == null) {
      // Two threads racing here resolve the same executor-wide value.
      current = broadcast.value();
      store = current;
    }
    return current;
  }

  @Override
  public InputFile inputFile(String location) {
    return store().inputFile(location);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    return store().inputFile(location, knownLength);
  }

  @Override
  public OutputFile outputFile(String location) {
    return store().outputFile(location);
  }

  @Override
  public boolean exists(String location) throws IOException {
    return store().exists(location);
  }

  @Override
  public boolean isDirectory(String location) throws IOException {
    return store().isDirectory(location);
  }

  @Override
  public void rename(String from, String to) throws IOException {
    store().rename(from, to);
  }

  @Override
  public boolean renamesAtomically(String location) {
    return store().renamesAtomically(location);
  }

  @Override
  public String canonical(String location) throws IOException {
    return store().canonical(location);
  }

  @Override
  public List<String> list(String directory) throws IOException {
    return store().list(directory);
  }

  @Override
  public void deleteRecursively(String location) throws IOException {
    store().deleteRecursively(location);
  }

  @Override
  public void mkdirs(String location) throws IOException {
    store().mkdirs(location);
  }

  @Override
  public String resolve(String directory, String child) {
    return store().resolve(directory, child);
  }

  @Override
  public String toString() {
    return "BroadcastFileStore(broadcast " + broadcast.id() + ")";
  }
}
