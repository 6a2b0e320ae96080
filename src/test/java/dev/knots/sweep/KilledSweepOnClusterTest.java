package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Fixtures;
import dev.knots.ForkedJvm;
import dev.knots.cli.Main;
import dev.knots.job.LocalEngine;
import dev.knots.job.MergeReport;
import dev.knots.job.OutputCommit;
import dev.knots.plan.PathOptions;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep on {@code local-cluster} (two executors, each a JVM of its own) whose driver is killed
 * with its executors while a point is being written, then run again with the same command: the
 * rerun exits 0 with the table and the bytes of an uninterrupted sweep, and no point is merged
 * twice.
 *
 * <p>The kill leaves the staging directory of the point it interrupted beside that point (never
 * taken for a point: its name starts with {@code _}). The rerun merges that point anew under its
 * own staging directory and leaves the killed one where it is, since another run of the sweep could
 * be writing it; its warning names it.
 */
class KilledSweepOnClusterTest {
  private static final String MASTER = "local-cluster[2,1,1024]";

  /** One progress line: {@code [k/N, s s] <combination> <point>: <status or note>}. */
  private static final Pattern PROGRESS =
      Pattern.compile("^\\[\\d+/\\d+, [0-9.]+ s\\] (\\S+) (\\S+): (.*)$", Pattern.MULTILINE);

  private static final String STAGING = ".knots-staging-";

  /**
   * This test's own Spark home, outside the temporary directory, which would warn about every link
   * it deletes; the executors' logs stay in its {@code work/} until the next run.
   */
  private static final Path SPARK_HOME = Path.of("target/spark-home-killed-sweep").toAbsolutePath();

  @TempDir Path temp;

  @Test
  void aSweepKilledMidwayResumesToTheTableAndBytesOfAnUninterruptedOne() throws Exception {
    Path killed = temp.resolve("killed");
    Path config = temp.resolve("sweep.yaml");
    Files.writeString(config, sweepFile(killed));
    Map<String, String> environment = sparkHome(SPARK_HOME);

    ForkedJvm.Started first = sweep(config, environment, "killed-run");
    awaitPointBeingWritten(first, killed);
    first.kill();
    // what the killed run left: its committed points and the staging of the one it was writing
    Map<String, byte[]> reportsBefore = new TreeMap<>();
    for (String point : points(killed)) {
      Path directory = killed.resolve(SweepPlan.POINTS_DIR).resolve(point);
      if (Files.exists(directory.resolve(OutputCommit.SUCCESS))) {
        reportsBefore.put(point, Files.readAllBytes(directory.resolve(MergeReport.FILE_NAME)));
      }
    }
    Set<String> leftBefore = staging(killed);
    String killedOut = Files.readString(first.out(), StandardCharsets.UTF_8);
    Set<String> printedDone = finished(killedOut, "done");
    assertTrue(reportsBefore.keySet().containsAll(printedDone), killedOut);
    assertFalse(printedDone.isEmpty(), killedOut);
    // one, unless the kill fell in the instant between a commit and the next point's staging
    assertTrue(leftBefore.size() <= 1, "one point is staged at a time: " + leftBefore);
    assertFalse(Files.exists(killed.resolve(SweepPlan.RESULTS_CSV)), "the table is written last");
    assertFalse(Files.exists(killed.resolve(OutputCommit.SUCCESS)));

    ForkedJvm.Result rerun = sweep(config, environment, "rerun").finish(5, TimeUnit.MINUTES);
    assertEquals(0, rerun.exitCode(), rerun.out() + rerun.err());

    Path reference = temp.resolve("reference");
    uninterrupted(config, reference);
    List<String> expectedPoints = points(reference);
    assertEquals(8, expectedPoints.size(), expectedPoints.toString());

    // no point merged twice: those committed before the kill are kept as they were, the rerun
    // merges the others
    assertEquals(reportsBefore.keySet(), finished(rerun.out(), "already done"), rerun.out());
    Set<String> rest = new TreeSet<>(expectedPoints);
    rest.removeAll(reportsBefore.keySet());
    assertEquals(rest, finished(rerun.out(), "done"), rerun.out());
    assertTrue(reportsBefore.size() < expectedPoints.size(), "killed before the last point");
    ObjectMapper json = new ObjectMapper();
    for (Map.Entry<String, byte[]> kept : reportsBefore.entrySet()) {
      Path report =
          killed
              .resolve(SweepPlan.POINTS_DIR)
              .resolve(kept.getKey())
              .resolve(MergeReport.FILE_NAME);
      byte[] after = Files.readAllBytes(report);
      assertArrayEquals(kept.getValue(), after, kept.getKey());
      assertEquals(
          json.readTree(kept.getValue()).get("started"),
          json.readTree(after).get("started"),
          kept.getKey());
    }
    // the same points, each complete, with the bytes of the uninterrupted sweep
    assertEquals(expectedPoints, points(killed));
    for (String point : expectedPoints) {
      Path directory = killed.resolve(SweepPlan.POINTS_DIR).resolve(point);
      Path expected = reference.resolve(SweepPlan.POINTS_DIR).resolve(point);
      assertTrue(Files.exists(directory.resolve(OutputCommit.SUCCESS)), point);
      for (String file : List.of("adapter_model.safetensors", "adapter_config.json")) {
        assertArrayEquals(
            Files.readAllBytes(expected.resolve(file)),
            Files.readAllBytes(directory.resolve(file)),
            point + "/" + file);
      }
    }
    assertTableEquals(reference, killed);
    assertTrue(Files.exists(killed.resolve(OutputCommit.SUCCESS)));

    // nothing else under the output but the killed run's staging, which the rerun names
    assertEquals(leftBefore, staging(killed));
    List<String> warnings =
        rerun.errLines().stream().filter(l -> l.startsWith("Warning: ")).toList();
    assertEquals(
        leftBefore.stream()
            .map(
                left ->
                    "Warning: in "
                        + killed
                        + " are directories that runs of this sweep left: "
                        + killed.resolve(SweepPlan.POINTS_DIR).resolve(left)
                        + ". None is a complete point (killed runs leave them). If no other run"
                        + " of this sweep is running, they can be deleted.")
            .toList(),
        warnings,
        rerun.err());
    assertEquals(
        Set.of(
            SweepPlan.RESOLVED_FILE,
            SweepPlan.RESULTS_CSV,
            SweepPlan.RESULTS_PARQUET,
            SweepPlan.POINTS_DIR,
            OutputCommit.SUCCESS),
        visibleNames(killed));
  }

  /** Two combinations of three fixture adapters, four points each, written as adapters. */
  private static String sweepFile(Path output) {
    return String.join(
        "\n",
        "adapters:",
        "  rot90: " + Fixtures.path("adapters/rot90"),
        "  hflip: " + Fixtures.path("adapters/hflip"),
        "  invert: " + Fixtures.path("adapters/invert"),
        "combinations:",
        "  - all",
        "  - [rot90, hflip]",
        "grid:",
        "  method: [knots-ties, ties]",
        "  top-k: [20, 50]",
        "  scaling: 0.6",
        "output: " + output,
        "format: adapter",
        "");
  }

  /**
   * A Spark home for the executors that local-cluster starts: {@code jars/} holds the test
   * classpath's jars, and this project's classes come through {@code
   * spark.executor.extraClassPath}. Returns the environment the driver needs.
   */
  private static Map<String, String> sparkHome(Path home) throws IOException {
    // the links, not the jars they point at
    Fixtures.STORE.deleteRecursively(home.toString());
    Path jars = Files.createDirectories(home.resolve("jars"));
    for (String entry : ForkedJvm.classpath()) {
      Path jar = Path.of(entry);
      Path link = jars.resolve(jar.getFileName().toString());
      if (entry.endsWith(".jar") && !Files.exists(link)) {
        Files.createSymbolicLink(link, jar.toAbsolutePath());
      }
    }
    return Map.of("SPARK_HOME", home.toString(), "SPARK_SCALA_VERSION", "2.13");
  }

  /** Starts {@code knots-merge sweep --config <config>} on {@link #MASTER}. */
  private ForkedJvm.Started sweep(Path config, Map<String, String> environment, String name)
      throws IOException {
    String classes =
        String.join(
            File.pathSeparator,
            ForkedJvm.classpath().stream().filter(e -> Files.isDirectory(Path.of(e))).toList());
    List<String> options =
        List.of(
            "-Xmx1g",
            "-Dspark.master=" + MASTER,
            "-Dspark.executor.extraClassPath=" + classes,
            "-Dspark.ui.enabled=false",
            "-Dspark.driver.host=127.0.0.1",
            "-Dspark.driver.bindAddress=127.0.0.1",
            "-Dlog4j2.configurationFile=" + ForkedJvm.LOCAL_LOGGING,
            "-Dknots.log.file=" + temp.resolve(name + ".log"));
    Path directory = Files.createDirectories(temp.resolve(name));
    return ForkedJvm.start(
        directory,
        ForkedJvm.java(options, Main.class.getName(), "sweep", "--config", config.toString()),
        environment);
  }

  /**
   * Waits until the sweep has printed a finished point and is writing a later one (its staging
   * directory exists), so that a kill now interrupts a point in the middle.
   */
  private static void awaitPointBeingWritten(ForkedJvm.Started run, Path output)
      throws IOException, InterruptedException, ExecutionException {
    // only against a hang, which would otherwise stall the build
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (finished(Files.readString(run.out(), StandardCharsets.UTF_8), "done").isEmpty()
        || staging(output).isEmpty()) {
      if (!run.process().isAlive() || System.nanoTime() > deadline) {
        run.kill();
        fail(
            "the sweep ended before a point was being written:\n"
                + Files.readString(run.out(), StandardCharsets.UTF_8)
                + Files.readString(run.err(), StandardCharsets.UTF_8));
      }
      Thread.sleep(5);
    }
  }

  /** The same file swept to {@code output} in this JVM, by the single-process engine. */
  private static void uninterrupted(Path config, Path output) throws IOException {
    SweepPlan plan =
        SweepPlan.of(
            SweepFile.parse(config.toString(), Files.readString(config)),
            Optional.of(output.toString()),
            Optional.empty(),
            Fixtures.STORE);
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    SweepRunner.Outcome outcome =
        new SweepRunner(
                new LocalEngine(Fixtures.STORE),
                PathOptions.defaults(),
                List.of(),
                new PrintStream(printed, true, StandardCharsets.UTF_8))
            .run(plan, false);
    assertTrue(outcome.complete(), printed.toString(StandardCharsets.UTF_8));
  }

  /**
   * The two tables are the same, column for column and row for row, but for the points' own time
   * and their directories, which must be the same relative to each sweep's output.
   */
  private static void assertTableEquals(Path expectedSweep, Path actualSweep) throws IOException {
    String expectedText = Files.readString(expectedSweep.resolve(SweepPlan.RESULTS_CSV));
    String actualText = Files.readString(actualSweep.resolve(SweepPlan.RESULTS_CSV));
    assertEquals(expectedText.lines().findFirst(), actualText.lines().findFirst(), "the header");
    List<Map<String, String>> expected = ResultsTable.parseCsv(expectedText);
    List<Map<String, String>> actual = ResultsTable.parseCsv(actualText);
    assertEquals(expected.size(), actual.size(), actualText);
    for (int i = 0; i < expected.size(); i++) {
      Map<String, String> want = new LinkedHashMap<>(expected.get(i));
      Map<String, String> got = new LinkedHashMap<>(actual.get(i));
      assertEquals(
          expectedSweep.relativize(Path.of(want.remove("output"))),
          actualSweep.relativize(Path.of(got.remove("output"))),
          "row " + i);
      want.remove("seconds");
      got.remove("seconds");
      assertEquals(want, got, "row " + i);
    }
  }

  /** The points that {@code out}'s progress lines say finished with {@code note}. */
  private static Set<String> finished(String out, String note) {
    Set<String> points = new TreeSet<>();
    Matcher line = PROGRESS.matcher(out);
    while (line.find()) {
      if (line.group(3).equals(note) || line.group(3).startsWith(note + " in ")) {
        points.add(line.group(1) + "/" + line.group(2));
      }
    }
    return points;
  }

  /** The point directories under the sweep's output, as {@code <combination>/<point>}. */
  private static List<String> points(Path sweep) throws IOException {
    return entries(sweep).stream()
        .filter(p -> !p.substring(p.indexOf('/') + 1).startsWith("_"))
        .toList();
  }

  /** The staging directories under the sweep's output, as {@code <combination>/<name>}. */
  private static Set<String> staging(Path sweep) throws IOException {
    Set<String> found = new TreeSet<>();
    for (String entry : entries(sweep)) {
      if (entry.contains(STAGING)) {
        found.add(entry);
      }
    }
    return found;
  }

  /** Everything in the combinations' directories, as {@code <combination>/<name>}, sorted. */
  private static List<String> entries(Path sweep) throws IOException {
    Path points = sweep.resolve(SweepPlan.POINTS_DIR);
    List<String> found = new ArrayList<>();
    if (!Files.isDirectory(points)) {
      return found;
    }
    try (Stream<Path> combinations = Files.list(points)) {
      for (Path combination : combinations.sorted().toList()) {
        try (Stream<Path> children = Files.list(combination)) {
          children
              .sorted()
              .forEach(c -> found.add(combination.getFileName() + "/" + c.getFileName()));
        }
      }
    }
    return found;
  }

  /** The sweep output's own entries, without Hadoop's hidden checksum files. */
  private static Set<String> visibleNames(Path sweep) throws IOException {
    try (Stream<Path> children = Files.list(sweep)) {
      return children
          .map(c -> c.getFileName().toString())
          .filter(n -> !n.startsWith("."))
          .collect(java.util.stream.Collectors.toCollection(TreeSet::new));
    }
  }
}
