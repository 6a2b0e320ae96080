package dev.knots.io.hadoop;

import static org.apache.hadoop.fs.statistics.IOStatisticsSupport.retrieveIOStatistics;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.FileStore;
import dev.knots.io.FileStoreContract;
import dev.knots.io.InputFile;
import dev.knots.io.RangeReader;
import dev.knots.io.Storage;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.statistics.IOStatistics;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * The {@link FileStore} contract on {@link HadoopFileStore} over s3a and a real (in-process) S3
 * server, plus what matters on S3 only: no metadata request when the length is known, redacted
 * credentials, and a {@link RoutingFileStore} shipped by serialization.
 */
class S3FileStoreTest extends FileStoreContract {

  private static final String SECRET_WITH_SLASH = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRET";
  private static final String SECRET = "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRET";

  private static LocalS3 s3;

  /** A second bucket, read with Hadoop's default input stream ("analytics"), set per bucket. */
  private static String analyticsBucket;

  private static HadoopFileStore store;

  @BeforeAll
  static void startS3() throws Exception {
    s3 = LocalS3.start();
    System.out.println("LocalS3 started in " + s3.startMillis() + " ms");
    analyticsBucket = s3.createBucket("analytics");
    Configuration conf = s3.configuration();
    conf.set("fs.s3a.bucket." + analyticsBucket + ".input.stream.type", "analytics");
    store = new HadoopFileStore(conf);
  }

  @AfterAll
  static void stopS3() throws Exception {
    if (s3 != null) {
      s3.close();
    }
  }

  @Override
  protected FileStore store() {
    return store;
  }

  @Override
  protected String base() {
    return s3.uri("contract");
  }

  /** Writes a safetensors file with one 64x64 F32 tensor (16 KiB) and returns its location. */
  private String writeTensorFile(String file) throws IOException {
    double[] values = new double[64 * 64];
    for (int i = 0; i < values.length; i++) {
      values[i] = i * 0.25;
    }
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            store.outputFile(file), List.of(TensorSpec.matrix("w", DType.F32, 64, 64)), Map.of())) {
      writer.write("w", values);
    }
    return file;
  }

  /**
   * The store's default s3a input stream is the classic one (unless configured): with it a known
   * length means no HEAD at all, one ranged GET per read. Without it, one getFileStatus (HEAD) per
   * file.
   */
  @Test
  void defaultStreamReadsATensorOfKnownLengthWithoutHead() throws IOException {
    assertEquals(
        "classic", store.configuration().get(HadoopFileStore.S3A_INPUT_STREAM_TYPE), "default");
    String file = writeTensorFile(at("known/model.safetensors"));
    long length = store.inputFile(file).length();

    RequestCounts before = RequestCounts.now(file);
    readTensor(store.inputFile(file, length));
    RequestCounts known = RequestCounts.now(file).minus(before);
    assertEquals(0, known.fileStatusCalls(), "getFileStatus calls");
    assertEquals(0, known.metadataRequests(), "S3A metadata requests");
    assertEquals(0, known.serverHeads(), "HEAD requests the server saw");
    assertEquals(2, known.serverGets(), "GET requests the server saw: the header, then the tensor");

    before = RequestCounts.now(file);
    readTensor(store.inputFile(file));
    RequestCounts unknown = RequestCounts.now(file).minus(before);
    assertEquals(1, unknown.fileStatusCalls(), "getFileStatus calls");
    assertEquals(1, unknown.serverHeads(), "HEAD requests the server saw");
  }

  /**
   * Hadoop 3.5's default s3a input stream ("analytics", the AWS Analytics Accelerator) is not asked
   * for the status either, but given only a length it issues a HEAD of its own (it wants the ETag),
   * once per file, as it caches the metadata for later opens. So with this stream a known length
   * saves nothing over one getFileStatus. This pins that behaviour, so a change shows up here.
   */
  @Test
  void analyticsStreamAddsOneHeadPerFileEvenWithAKnownLength() throws IOException {
    String file = writeTensorFile(s3.uri(analyticsBucket, "model.safetensors"));
    long length = store.inputFile(file).length();

    RequestCounts before = RequestCounts.now(file);
    readTensor(store.inputFile(file, length));
    RequestCounts known = RequestCounts.now(file).minus(before);
    assertEquals(0, known.fileStatusCalls(), "getFileStatus calls");
    assertEquals(0, known.metadataRequests(), "S3A metadata requests");
    assertEquals(
        1, known.serverHeads(), "HEAD requests the server saw for two opens (header, tensor)");

    // without a known length: one getFileStatus, whose status (with the ETag) then spares the
    // stream's HEAD
    String other = writeTensorFile(s3.uri(analyticsBucket, "other.safetensors"));
    before = RequestCounts.now(other);
    readTensor(store.inputFile(other));
    RequestCounts unknown = RequestCounts.now(other).minus(before);
    assertEquals(1, unknown.fileStatusCalls(), "getFileStatus calls");
    assertEquals(1, unknown.serverHeads(), "HEAD requests the server saw");
  }

  private static void readTensor(InputFile input) throws IOException {
    SafetensorsHeader header = SafetensorsHeader.read(input);
    try (SafetensorsReader reader = new SafetensorsReader(input, header)) {
      double[] w = reader.readDoubles("w");
      assertEquals(64 * 64, w.length);
      assertEquals(0.25 * 4095, w[4095]);
    }
  }

  /** Request counts about one file: of the s3a client of its bucket and of the server. */
  private record RequestCounts(
      long fileStatusCalls, long metadataRequests, long serverHeads, long serverGets) {

    static RequestCounts now(String file) throws IOException {
      // the IOStatistics of the bucket's cached file system, the instance the store uses; not
      // getStorageStatistics(), which S3A registers once per JVM, bound to the first instance
      IOStatistics stats =
          retrieveIOStatistics(FileSystem.get(URI.create(file), s3.configuration()));
      return new RequestCounts(
          counter(stats, "op_get_file_status"),
          counter(stats, "object_metadata_request"),
          s3.calls("blobMetadata", file),
          s3.calls("getBlob", file));
    }

    private static long counter(IOStatistics stats, String name) {
      Long value = stats.counters().get(name);
      assertNotNull(value, "no S3A statistic " + name);
      return value;
    }

    RequestCounts minus(RequestCounts other) {
      return new RequestCounts(
          fileStatusCalls - other.fileStatusCalls,
          metadataRequests - other.metadataRequests,
          serverHeads - other.serverHeads,
          serverGets - other.serverGets);
    }
  }

  /**
   * The failing-fast store for reads before the job has file systems of its own: created first, it
   * does not hand its bounded retries to the job's store, which Hadoop's cache would otherwise do
   * (it keys file systems by scheme, authority and user only). Both read the same object.
   */
  @Test
  void aFailingFastStoreKeepsItsSettingsToItself() throws IOException {
    String file = writeTensorFile(s3.uri("fail-fast/w.safetensors"));
    Configuration conf = s3.configuration();
    HadoopFileStore headers = HadoopFileStore.failingFast(conf);
    assertTrue(headers.exists(file));
    HadoopFileStore job = new HadoopFileStore(conf);
    assertTrue(job.exists(file));
    Path path = new Path(file);
    FileSystem headerFs = headers.fileSystem(path, "check", file);
    FileSystem jobFs = job.fileSystem(path, "check", file);
    assertNotSame(headerFs, jobFs);
    assertSame(headerFs, headers.fileSystem(path, "check", file), "created once");
    assertEquals("15s", headerFs.getConf().get("fs.s3a.connection.establish.timeout"));
    assertEquals("30s", jobFs.getConf().get("fs.s3a.connection.establish.timeout"));
    // LocalS3 sets it, and what the user sets stands
    assertEquals("2", headerFs.getConf().get("fs.s3a.retry.limit"));
  }

  @Test
  void opensWithTheRandomReadPolicy() throws IOException {
    for (String file : List.of(at("policy.bin"), s3.uri(analyticsBucket, "policy/policy.bin"))) {
      write(file, new byte[100]);
      HadoopInputFile input = (HadoopInputFile) store.inputFile(file, 100);
      try (FSDataInputStream in = input.openStream()) {
        assertTrue(in.toString().contains("inputPolicy=random"), in.toString());
      }
    }
  }

  /**
   * S3A takes no credentials from URIs, but a user may still write them there; they must not reach
   * a message, a cause or a stack trace. A secret with '/' makes the URI's authority end inside the
   * secret, which Hadoop rejects differently, so both kinds are tried.
   */
  @Test
  void credentialsInAUriNeverAppearInMessages() throws IOException {
    write(at("present.bin"), new byte[] {1});
    List<String> leaks = new ArrayList<>();
    for (String secret : List.of(SECRET_WITH_SLASH, SECRET)) {
      String userInfo = "AKIAEXAMPLE:" + secret + "@";
      String missing = "s3a://" + userInfo + s3.bucket() + "/redaction/missing.bin";
      List<Executable> failing =
          List.of(
              () -> store.inputFile(missing).length(),
              () -> store.inputFile(missing).open(),
              () -> {
                try (RangeReader reader = store.inputFile(missing, 8).open()) {
                  reader.readFully(0, new byte[8], 0, 8);
                }
              },
              () -> store.list(missing),
              () ->
                  store.rename(missing, "s3a://" + userInfo + s3.bucket() + "/redaction/other.bin"),
              () -> store.rename(missing, s3.uri("redaction/other.bin")),
              () -> store.inputFile(missing, -1),
              () ->
                  store
                      .outputFile(at("present.bin").replace("s3a://", "s3a://" + userInfo))
                      .create(),
              () -> store.inputFile("s3a://" + userInfo + "bad bucket/x").length());
      for (Executable action : failing) {
        Throwable e = assertThrows(Throwable.class, action);
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        if (trace.toString().contains(secret) || trace.toString().contains("AKIAEXAMPLE")) {
          leaks.add(trace.toString());
        }
        assertTrue(e.getMessage().startsWith("Cannot "), e.toString());
        System.out.println("redacted: " + e);
      }
    }
    assertEquals(List.of(), leaks);
  }

  @Test
  void routingStoreShippedBySerializationReachesS3() throws Exception {
    RoutingFileStore original = new RoutingFileStore(s3.configuration());
    String file = at("shipped.bin");
    Storage.writeAll(original.outputFile(file), new byte[] {9, 8, 7});

    RoutingFileStore copy = Serialization.deserialize(Serialization.serialize(original));
    assertInstanceOf(HadoopFileStore.class, copy.storeFor(file));
    assertArrayEquals(new byte[] {9, 8, 7}, Storage.readAll(copy.inputFile(file), 10));
    Storage.writeAll(copy.outputFile(at("from-copy.bin")), new byte[] {1});
    assertEquals(List.of("from-copy.bin", "shipped.bin"), copy.list(dir));
    copy.rename(at("from-copy.bin"), at("renamed.bin"));
    assertFalse(original.exists(at("from-copy.bin")));
    assertTrue(original.exists(at("renamed.bin")));
  }
}
