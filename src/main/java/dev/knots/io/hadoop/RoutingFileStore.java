package dev.knots.io.hadoop;

import dev.knots.io.FileStore;
import dev.knots.io.InputFile;
import dev.knots.io.LocalFileStore;
import dev.knots.io.Locations;
import dev.knots.io.OutputFile;
import java.io.IOException;
import java.io.Serializable;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;

/**
 * The {@link FileStore} of the job: local locations (plain paths and {@code file:} URIs) go to
 * {@link LocalFileStore}, so local output gets no Hadoop {@code .crc} files, and every other scheme
 * ({@code hdfs://}, {@code s3a://}, ...) goes to a {@link HadoopFileStore}.
 *
 * <p>It is {@link Serializable} so that Spark can ship it to executors: the Hadoop configuration
 * travels with it (tens of kilobytes), and the Hadoop store is created on first use in each JVM.
 * The Spark job therefore broadcasts it once ({@code dev.knots.spark.BroadcastFileStore}) rather
 * than capturing it in every task.
 */
public final class RoutingFileStore implements FileStore, Serializable {

  private static final long serialVersionUID = 1L;
  private static final String SPARK_HADOOP_PREFIX = "spark.hadoop.";
  private static final LocalFileStore LOCAL = new LocalFileStore();

  /** Where the Hadoop configuration comes from when it is built on first use; else null. */
  private final HashMap<String, String> sparkProperties;

  /** The Hadoop configuration given; null when built from {@link #sparkProperties}. */
  private final SerializableConfiguration conf;

  private transient volatile HadoopFileStore hadoop;

  /**
   * A store configured by a copy of {@code conf}; later changes to {@code conf} do not reach it.
   */
  public RoutingFileStore(Configuration conf) {
    Configuration copy = new Configuration(Objects.requireNonNull(conf, "conf"));
    this.conf = new SerializableConfiguration(HadoopFileStore.withDefaults(copy));
    this.sparkProperties = null;
  }

  private RoutingFileStore(Map<String, String> sparkProperties) {
    this.sparkProperties = new HashMap<>(sparkProperties);
    this.conf = null;
  }

  /**
   * A store for the driver's reads before Spark starts: the Hadoop configuration of {@link
   * #hadoopConfiguration(Map)}, built when a non-local location is first used (reading local
   * headers then loads no Hadoop class and parses no Hadoop XML, work that Spark's own start does
   * anyway), failing within seconds when S3 cannot be reached ({@link HadoopFileStore#failingFast})
   * unless the properties set s3a's retries themselves.
   */
  public static RoutingFileStore forSparkProperties(Map<String, String> sparkProperties) {
    return new RoutingFileStore(Objects.requireNonNull(sparkProperties, "sparkProperties"));
  }

  /**
   * The Hadoop configuration a Spark application with these properties would have, without starting
   * Spark: {@code new Configuration()} (the defaults, plus {@code core-site.xml} from the classpath
   * or {@code HADOOP_CONF_DIR}) with every {@code spark.hadoop.X=v} property set as {@code X=v}.
   * Other properties are ignored.
   */
  public static Configuration hadoopConfiguration(Map<String, String> properties) {
    Configuration result = new Configuration();
    properties.forEach(
        (key, value) -> {
          if (key.startsWith(SPARK_HADOOP_PREFIX) && key.length() > SPARK_HADOOP_PREFIX.length()) {
            result.set(key.substring(SPARK_HADOOP_PREFIX.length()), value, "spark.hadoop property");
          }
        });
    return result;
  }

  /** The store that handles a location. */
  FileStore storeFor(String location) {
    return Locations.isLocal(location) ? LOCAL : hadoop();
  }

  private HadoopFileStore hadoop() {
    HadoopFileStore current = hadoop;
    if (current == null) {
      synchronized (this) {
        current = hadoop;
        if (current == null) {
          current =
              sparkProperties != null
                  ? HadoopFileStore.failingFast(hadoopConfiguration(sparkProperties))
                  : new HadoopFileStore(conf.get());
          hadoop = current;
        }
      }
    }
    return current;
  }

  @Override
  public InputFile inputFile(String location) {
    return storeFor(location).inputFile(location);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    return storeFor(location).inputFile(location, knownLength);
  }

  @Override
  public OutputFile outputFile(String location) {
    return storeFor(location).outputFile(location);
  }

  @Override
  public boolean exists(String location) throws IOException {
    return storeFor(location).exists(location);
  }

  @Override
  public boolean isDirectory(String location) throws IOException {
    return storeFor(location).isDirectory(location);
  }

  @Override
  public List<String> list(String directory) throws IOException {
    return storeFor(directory).list(directory);
  }

  @Override
  public void deleteRecursively(String location) throws IOException {
    storeFor(location).deleteRecursively(location);
  }

  @Override
  public void mkdirs(String location) throws IOException {
    storeFor(location).mkdirs(location);
  }

  @Override
  public void rename(String from, String to) throws IOException {
    if (Locations.isLocal(from) != Locations.isLocal(to)) {
      throw new IOException(
          "Cannot rename "
              + Locations.redact(from)
              + " to "
              + Locations.redact(to)
              + ": one is local and the other is not. Copy the data instead.");
    }
    storeFor(from).rename(from, to);
  }

  @Override
  public boolean renamesAtomically(String location) {
    return storeFor(location).renamesAtomically(location);
  }

  @Override
  public String canonical(String location) throws IOException {
    return storeFor(location).canonical(location);
  }

  @Override
  public String resolve(String directory, String child) {
    return Locations.join(directory, child);
  }
}
