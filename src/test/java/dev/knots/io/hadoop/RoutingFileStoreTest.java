package dev.knots.io.hadoop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.FileStore;
import dev.knots.io.FileStoreContract;
import dev.knots.io.LocalFileStore;
import dev.knots.io.Storage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@link FileStore} contract on {@link RoutingFileStore} with local paths, and its routing. */
class RoutingFileStoreTest extends FileStoreContract {

  private final RoutingFileStore store = new RoutingFileStore(new Configuration());

  @TempDir Path tmp;

  @Override
  protected FileStore store() {
    return store;
  }

  @Override
  protected String base() {
    return tmp.toString();
  }

  @Test
  void routesByScheme() {
    assertInstanceOf(LocalFileStore.class, store.storeFor("/data/x"));
    assertInstanceOf(LocalFileStore.class, store.storeFor("relative/x"));
    assertInstanceOf(LocalFileStore.class, store.storeFor("file:///data/x"));
    assertInstanceOf(HadoopFileStore.class, store.storeFor("hdfs://nn:8020/x"));
    assertInstanceOf(HadoopFileStore.class, store.storeFor("s3a://bucket/x"));
  }

  @Test
  void localOutputHasNoChecksumFiles() throws IOException {
    Storage.writeAll(store.outputFile(at("a.bin")), new byte[] {1});
    Storage.writeAll(store.outputFile(tmp.toUri() + "b.bin"), new byte[] {2});
    try (var files = Files.list(tmp)) {
      List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
      assertEquals(List.of("b.bin", dir.substring(dir.lastIndexOf('/') + 1)), names);
    }
    assertEquals(List.of("a.bin"), new LocalFileStore().list(dir));
  }

  @Test
  void renameBetweenLocalAndRemoteFails() throws IOException {
    write(at("a"), new byte[1]);
    IOException e =
        assertThrows(IOException.class, () -> store.rename(at("a"), "s3a://K:SECRET@bucket/a"));
    assertEquals(
        "Cannot rename "
            + at("a")
            + " to s3a://bucket/a: one is local and the other is not."
            + " Copy the data instead.",
        e.getMessage());
  }

  @Test
  void hadoopConfigurationTakesSparkHadoopProperties() {
    Configuration conf =
        RoutingFileStore.hadoopConfiguration(
            Map.of(
                "spark.hadoop.fs.s3a.endpoint", "http://127.0.0.1:9000",
                "spark.hadoop.dfs.replication", "2",
                "spark.executor.memory", "4g",
                "spark.hadoop.", "ignored"));
    assertEquals("http://127.0.0.1:9000", conf.get("fs.s3a.endpoint"));
    assertEquals("2", conf.get("dfs.replication"));
    assertNull(conf.get("spark.executor.memory"));
    assertNull(conf.get("executor.memory"));
    // the defaults are there too
    assertEquals("file:///", conf.get("fs.defaultFS"));
  }

  @Test
  void aStoreFromSparkPropertiesBuildsItsHadoopConfigurationOnFirstRemoteUse() throws Exception {
    RoutingFileStore lazy =
        RoutingFileStore.forSparkProperties(Map.of("spark.hadoop.knots.test.marker", "from spark"));
    Storage.writeAll(lazy.outputFile(at("local.bin")), new byte[] {7});
    assertArrayEquals(new byte[] {7}, read(at("local.bin")));

    // shipped before any remote use, it builds the configuration where it is first needed
    RoutingFileStore copy = Serialization.deserialize(Serialization.serialize(lazy));
    for (RoutingFileStore store : List.of(lazy, copy)) {
      HadoopFileStore hadoop = assertInstanceOf(HadoopFileStore.class, store.storeFor("hdfs://x"));
      assertEquals("from spark", hadoop.configuration().get("knots.test.marker"));
      assertEquals("file:///", hadoop.configuration().get("fs.defaultFS"), "with the defaults");
    }
  }

  /**
   * The store for the driver's reads before Spark bounds s3a's retries where the properties leave
   * them at Hadoop's defaults; the job's store keeps those defaults.
   */
  @Test
  void aStoreFromSparkPropertiesFailsFastOnS3UnlessTheyBoundItThemselves() {
    RoutingFileStore headers =
        RoutingFileStore.forSparkProperties(Map.of("spark.hadoop.fs.s3a.retry.limit", "4"));
    Configuration bounded =
        assertInstanceOf(HadoopFileStore.class, headers.storeFor("s3a://b/x")).configuration();
    assertEquals("4", bounded.get("fs.s3a.retry.limit"), "as the user set it");
    assertEquals("1", bounded.get("fs.s3a.attempts.maximum"));
    assertEquals("15s", bounded.get("fs.s3a.connection.establish.timeout"));
    Configuration job =
        assertInstanceOf(HadoopFileStore.class, store.storeFor("s3a://b/x")).configuration();
    assertEquals("7", job.get("fs.s3a.retry.limit"));
    assertEquals("5", job.get("fs.s3a.attempts.maximum"));
  }

  @Test
  void survivesJavaSerializationWithItsConfiguration() throws Exception {
    Configuration conf = new Configuration();
    conf.set("knots.test.marker", "kept");
    RoutingFileStore original = new RoutingFileStore(conf);
    conf.set("knots.test.marker", "changed later");
    original.storeFor("hdfs://nn/x"); // creates the transient Hadoop store before serialization

    byte[] bytes = Serialization.serialize(original);
    RoutingFileStore copy = Serialization.deserialize(bytes);
    System.out.println("serialized RoutingFileStore: " + bytes.length + " bytes");

    Storage.writeAll(copy.outputFile(at("after.bin")), new byte[] {4, 5});
    assertArrayEquals(new byte[] {4, 5}, read(at("after.bin")));
    HadoopFileStore hadoop =
        assertInstanceOf(HadoopFileStore.class, copy.storeFor("file-like://x"));
    assertEquals("kept", hadoop.configuration().get("knots.test.marker"));
    // reading the Hadoop configuration does not need a core-site.xml on the receiving side
    assertTrue(hadoop.configuration().size() > 100);
  }
}
