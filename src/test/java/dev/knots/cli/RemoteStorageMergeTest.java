package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Checkpoints;
import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.SystemProperties;
import dev.knots.io.FileStore;
import dev.knots.io.InputFile;
import dev.knots.io.Storage;
import dev.knots.io.hadoop.LocalS3;
import dev.knots.io.hadoop.MiniHdfs;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.job.LocalRuns;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputCommit;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.spark.FailsAfterWriting;
import dev.knots.spark.SparkRuns;
import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import scala.Tuple2;

/**
 * The merge job end to end against a real HDFS (MiniDFSCluster) and a real S3 server (S3Proxy), in
 * process on 127.0.0.1, reached through {@code spark.hadoop.*} settings only: outputs
 * byte-identical to the same merge on local files, the commit protocol under failures, and no
 * credentials in any text the job produces.
 */
class RemoteStorageMergeTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";

  private static LocalS3 s3;
  private static MiniHdfs hdfs;
  private static SparkContext spark;
  private static FileStore store;

  /** The fixture adapters, copied to each store. */
  private static List<String> s3Adapters;

  private static List<String> hdfsAdapters;

  @TempDir static Path temp;

  @BeforeAll
  static void start() throws Exception {
    s3 = LocalS3.start();
    hdfs = MiniHdfs.start();
    System.out.println(
        "LocalS3 started in "
            + s3.startMillis()
            + " ms, MiniHdfs in "
            + hdfs.startMillis()
            + " ms");
    Map<String, String> failFast = new TreeMap<>();
    // an unreachable S3 fails a task in seconds, not minutes
    failFast.put("spark.hadoop.fs.s3a.attempts.maximum", "1");
    failFast.put("spark.hadoop.fs.s3a.retry.limit", "1");
    failFast.put("spark.hadoop.fs.s3a.retry.interval", "100ms");
    failFast.put("spark.hadoop.fs.s3a.connection.establish.timeout", "2s");
    failFast.put("spark.hadoop.fs.s3a.connection.timeout", "2s");
    SparkConf conf = LocalSpark.conf("local[2,3]", "RemoteStorageMergeTest");
    s3.sparkProperties().forEach(conf::set);
    hdfs.sparkProperties().forEach(conf::set);
    failFast.forEach(conf::set);
    spark = new SparkContext(conf);
    store = new RoutingFileStore(spark.hadoopConfiguration());

    List<String> local = Fixtures.adapters(Fixtures.config(KNOTS_TIES));
    s3Adapters = new ArrayList<>();
    hdfsAdapters = new ArrayList<>();
    for (String adapter : local) {
      String name = Path.of(adapter).getFileName().toString();
      s3Adapters.add(copy(adapter, s3.uri("adapters/" + name)));
      hdfsAdapters.add(copy(adapter, hdfs.uri("/adapters/" + name)));
    }
  }

  @AfterAll
  static void stop() throws Exception {
    if (spark != null) {
      spark.stop();
    }
    if (hdfs != null) {
      hdfs.close();
    }
    if (s3 != null) {
      s3.close();
    }
  }

  /** Copies a local directory tree to {@code target} with the FileStore API; returns target. */
  private static String copy(String localDirectory, String target) throws IOException {
    try (Stream<Path> files = Files.walk(Path.of(localDirectory))) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        String relative = Path.of(localDirectory).relativize(file).toString();
        Storage.writeAll(
            store.outputFile(store.resolve(target, relative)), Files.readAllBytes(file));
      }
    }
    return target;
  }

  /** The fixture merge with other inputs and output. */
  private static MergeRequest request(
      List<String> adapters, String output, OutputFormat format, String base) {
    MergeRequest local = Fixtures.request(Fixtures.config(KNOTS_TIES), output, format, base);
    return new MergeRequest(
        adapters,
        local.method(),
        local.parameters(),
        local.concat(),
        output,
        format,
        Optional.ofNullable(base));
  }

  private static void runJob(MergeRequest request) throws IOException {
    SparkRuns.run(spark, request, RunOptions.defaults());
  }

  /** The same merge on local files, by the single-process core. */
  private static Path localMerge(String name, OutputFormat format, String base) throws IOException {
    Path out = temp.resolve(name);
    LocalRuns.run(
        Fixtures.request(Fixtures.config(KNOTS_TIES), out.toString(), format, base),
        Fixtures.STORE,
        false);
    return out;
  }

  /** Every file of {@code expected} but the report has the same bytes under {@code actual}. */
  private static void assertSameOutput(Path expected, String actual) throws IOException {
    int compared = 0;
    try (Stream<Path> files = Files.walk(expected)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        String relative = expected.relativize(file).toString();
        if (relative.equals(MergeReport.FILE_NAME)) {
          continue;
        }
        assertArrayEquals(
            Files.readAllBytes(file), read(store.resolve(actual, relative)), relative + " differs");
        compared++;
      }
    }
    assertTrue(compared >= 2, "compared " + compared + " files");
    assertTrue(store.exists(store.resolve(actual, OutputCommit.SUCCESS)), "_SUCCESS");
    assertTrue(store.exists(store.resolve(actual, MergeReport.FILE_NAME)), "report");
  }

  private static byte[] read(String location) throws IOException {
    InputFile file = store.inputFile(location);
    return Storage.readAll(file, (int) file.length());
  }

  /**
   * The staging directories in the parent of {@code output}. On S3 only those that still hold a
   * file: S3Proxy's in-memory store can list a directory that its deletes emptied, which S3 itself
   * does not have. On HDFS any staging directory counts.
   */
  private static List<String> staging(String parent) throws IOException {
    if (!store.exists(parent)) {
      return List.of();
    }
    List<String> left = new ArrayList<>();
    for (String name : store.list(parent)) {
      if (name.contains("knots-staging")
          && (!parent.startsWith("s3a:") || holdsFiles(store.resolve(parent, name)))) {
        left.add(name);
      }
    }
    return left;
  }

  private static boolean holdsFiles(String location) throws IOException {
    if (!store.isDirectory(location)) {
      return store.exists(location);
    }
    for (String child : store.list(location)) {
      if (holdsFiles(store.resolve(location, child))) {
        return true;
      }
    }
    return false;
  }

  @Test
  void adaptersOnS3OutputOnHdfs() throws IOException {
    String output = hdfs.uri("/merges/from-s3");
    runJob(request(s3Adapters, output, OutputFormat.ADAPTER, null));
    assertSameOutput(localMerge("s3-to-hdfs", OutputFormat.ADAPTER, null), output);
    assertEquals(List.of(), staging(hdfs.uri("/merges")));
  }

  @Test
  void adaptersOnHdfsOutputOnS3() throws IOException {
    String output = s3.uri("merges/from-hdfs");
    runJob(request(hdfsAdapters, output, OutputFormat.ADAPTER, null));
    assertSameOutput(localMerge("hdfs-to-s3", OutputFormat.ADAPTER, null), output);
    assertEquals(List.of(), staging(s3.uri("merges")));
  }

  @Test
  void baseModelOnS3FullModelOnS3() throws IOException {
    Path base = temp.resolve("sharded-base");
    Fixtures.writeShardedBase(base, DType.BF16, 80_000);
    String s3Base = copy(base.toString(), s3.uri("models/base"));
    assertTrue(store.exists(store.resolve(s3Base, "model.safetensors.index.json")));
    String output = s3.uri("merges/model");
    runJob(request(s3Adapters, output, OutputFormat.MODEL, s3Base));
    assertSameOutput(localMerge("model", OutputFormat.MODEL, base.toString()), output);
  }

  /** Checkpoints read from HDFS and the base from S3 by ranged reads; the model written to S3. */
  @Test
  void checkpointsOnHdfsBaseOnS3ModelOnS3() throws IOException {
    String base = Fixtures.path("base_model");
    List<String> local = Checkpoints.write(temp.resolve("checkpoints"), base, DType.F64);
    List<String> onHdfs = new ArrayList<>();
    for (String checkpoint : local) {
      onHdfs.add(copy(checkpoint, hdfs.uri("/checkpoints/" + Path.of(checkpoint).getFileName())));
    }
    String s3Base = copy(base, s3.uri("models/fixture-base"));
    String output = s3.uri("merges/checkpoints");
    runJob(Checkpoints.request(KNOTS_TIES, onHdfs, s3Base, output, Optional.empty()));
    Path expected = temp.resolve("checkpoints-local");
    LocalRuns.run(
        Checkpoints.request(KNOTS_TIES, local, base, expected.toString(), Optional.empty()),
        Fixtures.STORE,
        false);
    assertSameOutput(expected, output);
  }

  private static String[] mergeArgs(String adapters, String output, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "merge",
                "--adapters",
                adapters,
                "--method",
                "knots-ties",
                "--top-k",
                "20",
                "--scaling",
                "0.6",
                "--output",
                output));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  /**
   * Runs the command line as spark-submit would: the context's {@code spark.hadoop.*} settings are
   * system properties of the driver too, where its reads before Spark find them.
   */
  private static MainRun main(String[] args) {
    Map<String, String> hadoop = new TreeMap<>();
    for (Tuple2<String, String> setting : spark.getConf().getAll()) {
      if (setting._1().startsWith("spark.hadoop.")) {
        hadoop.put(setting._1(), setting._2());
      }
    }
    return SystemProperties.with(hadoop, () -> MainRun.of(() -> spark, args));
  }

  @Test
  void aWriteFailureAfterPartOfTheOutputPublishesNothingAndARerunSucceeds() throws IOException {
    String output = hdfs.uri("/merges/failed-write");
    MergeRequest request = request(s3Adapters, output, OutputFormat.ADAPTER, null);
    IOException failed =
        assertThrows(
            IOException.class,
            () ->
                SparkRuns.run(
                    spark,
                    request,
                    RunOptions.defaults(),
                    new FailsAfterWriting(
                        new RoutingFileStore(spark.hadoopConfiguration()),
                        FailsAfterWriting.LAYER_1_PART)));
    assertTrue(
        failed.getMessage().startsWith("Cannot write the merge to " + output), failed.getMessage());
    assertTrue(failed.getMessage().contains("Injected write failure"), failed.getMessage());
    assertFalse(store.exists(output), "nothing at the destination");
    assertFalse(store.exists(store.resolve(output, OutputCommit.SUCCESS)));
    assertEquals(List.of(), staging(hdfs.uri("/merges")), "staging removed");

    String[] args = mergeArgs(String.join(",", s3Adapters), output);
    MainRun rerun = main(args);
    assertEquals(0, rerun.code(), rerun.err());
    assertSameOutput(localMerge("rerun-after-write-failure", OutputFormat.ADAPTER, null), output);
  }

  /** Stops the S3 server when the first task of the merge-and-write stage has ended. */
  private static final class StopS3MidMerge extends SparkListener {
    private final Set<Integer> mergeStages = ConcurrentHashMap.newKeySet();
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicReference<Exception> failure = new AtomicReference<>();

    @Override
    public void onJobStart(SparkListenerJobStart jobStart) {
      String description = jobStart.properties().getProperty("spark.job.description", "");
      if (description.startsWith("merge ")) {
        jobStart.stageInfos().foreach(stage -> mergeStages.add(stage.stageId()));
      }
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
      if (mergeStages.contains(taskEnd.stageId()) && stopped.compareAndSet(false, true)) {
        try {
          s3.suspend();
        } catch (Exception e) {
          failure.set(e);
        }
      }
    }
  }

  @Test
  void s3StoppedMidJobPublishesNothingAndARerunSucceeds() throws Exception {
    String output = s3.uri("merges/outage");
    MergeRequest request = request(hdfsAdapters, output, OutputFormat.ADAPTER, null);
    StopS3MidMerge listener = new StopS3MidMerge();
    spark.addSparkListener(listener);
    IOException e;
    long t0 = System.nanoTime();
    try {
      e = assertThrows(IOException.class, () -> runJob(request));
    } finally {
      spark.removeSparkListener(listener);
      if (listener.stopped.get()) {
        s3.resume();
      }
    }
    System.out.printf("S3 outage failed the job in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    assertTrue(listener.stopped.get(), "the server was stopped");
    assertEquals(null, listener.failure.get());
    assertTrue(
        e.getMessage().startsWith("Cannot write the merge to " + output + ": "), e.getMessage());
    assertFalse(store.exists(output), "nothing at the destination");
    assertFalse(store.exists(store.resolve(output, OutputCommit.SUCCESS)));
    // the staging directory could not be removed while the server was down; it is hidden ('_')
    // beside the destination and never has _SUCCESS
    for (String name : staging(s3.uri("merges"))) {
      if (!name.startsWith("_outage.knots-staging-")) {
        continue;
      }
      assertFalse(store.exists(store.resolve(s3.uri("merges/" + name), OutputCommit.SUCCESS)));
    }

    runJob(request);
    assertSameOutput(localMerge("rerun-after-outage", OutputFormat.ADAPTER, null), output);
  }

  private static final String FAKE_KEY = "AKIAQWERTYUIOPASDFGH";
  private static final String FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFAKESECRET";

  /** Everything log4j logs (at INFO and above) while {@code body} runs. */
  private static String capturingLogs(Runnable body) {
    LoggerContext context = (LoggerContext) LogManager.getContext(false);
    StringWriter logs = new StringWriter();
    WriterAppender appender =
        WriterAppender.newBuilder()
            .setName("secrets-capture")
            .setTarget(logs)
            .setLayout(PatternLayout.newBuilder().withPattern("%p %c %m%n%ex").build())
            .build();
    appender.start();
    LoggerConfig root = context.getConfiguration().getRootLogger();
    Level level = root.getLevel();
    root.addAppender(appender, Level.INFO, null);
    root.setLevel(Level.INFO);
    context.updateLoggers();
    try {
      body.run();
    } finally {
      root.removeAppender("secrets-capture");
      root.setLevel(level);
      context.updateLoggers();
      appender.stop();
    }
    return logs.toString();
  }

  @Test
  void credentialsNeverAppearInLogsReportsDryRunsOrErrors() throws IOException {
    String output = hdfs.uri("/merges/secrets");
    String withCredentials = "s3a://" + FAKE_KEY + ":" + FAKE_SECRET + "@";
    String leakyAdapters =
        String.join(",", s3Adapters)
            .replace("s3a://", "s3a://" + FAKE_KEY + ":" + FAKE_SECRET.replace("/", "%2F") + "@");
    String leakyOutput = s3.uri("merges/leaky").replace("s3a://", withCredentials);
    List<MainRun> runs = new ArrayList<>();
    String logs =
        capturingLogs(
            () -> {
              // the server's access and secret key are spark.hadoop.* settings, as main() runs
              runs.add(main(mergeArgs(String.join(",", s3Adapters), output)));
              runs.add(main(mergeArgs(String.join(",", s3Adapters), leakyOutput)));
              runs.add(main(mergeArgs(leakyAdapters, output + "-2")));
              runs.add(
                  main(
                      mergeArgs(
                          String.join(",", s3Adapters).replace("s3a://", withCredentials),
                          output + "-3")));
              runs.add(main(mergeArgs(String.join(",", s3Adapters), output + "-4", "--dry-run")));
              runs.add(main(mergeArgs(String.join(",", s3Adapters), leakyOutput, "--dry-run")));
            });
    assertEquals(0, runs.get(0).code(), runs.get(0).err());
    for (int i = 1; i < 4; i++) {
      assertNotEquals(0, runs.get(i).code(), "run " + i + " should fail");
    }
    assertEquals(0, runs.get(4).code(), runs.get(4).err());
    assertTrue(runs.get(4).out().contains("Plan:"), runs.get(4).out());
    String report = new String(read(store.resolve(output, MergeReport.FILE_NAME)), UTF_8);

    StringBuilder everything = new StringBuilder(logs).append(report);
    runs.forEach(r -> everything.append(r.out()).append(r.err()));
    String text = everything.toString();
    assertTrue(text.contains("Cannot"), "the failures were reported: " + text);
    for (String secret :
        List.of(
            LocalS3.ACCESS_KEY,
            LocalS3.SECRET_KEY,
            FAKE_KEY,
            FAKE_SECRET,
            FAKE_SECRET.replace("/", "%2F"),
            "wJalrXUtnFEMI")) {
      assertFalse(text.contains(secret), secret + " leaked:\n" + excerpt(text, secret));
    }
  }

  private static final java.nio.charset.Charset UTF_8 = StandardCharsets.UTF_8;

  private static String excerpt(String text, String secret) {
    int at = text.indexOf(secret);
    return at < 0 ? "" : text.substring(Math.max(0, at - 300), Math.min(text.length(), at + 100));
  }
}
