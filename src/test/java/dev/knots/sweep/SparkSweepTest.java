package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.LocalEngine;
import dev.knots.job.MergeEngine;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.Scope;
import dev.knots.plan.PathOptions;
import dev.knots.spark.SparkEngine;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sweep on Spark: the bytes and diagnostics of the single-process sweep, one align per group. */
class SparkSweepTest {
  private static SparkContext spark;

  @TempDir Path temp;

  @BeforeAll
  static void start() {
    spark = LocalSpark.start("local[2]", "SparkSweepTest");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private SweepFile file(String output) {
    return file(output, "adapter");
  }

  private SweepFile file(String output, String format) {
    LinkedHashMap<String, String> pool = new LinkedHashMap<>();
    for (String name : List.of("rot90", "hflip", "invert")) {
      pool.put(name, Fixtures.path("adapters/" + name));
    }
    List<Point> points = new ArrayList<>();
    for (double topK : new double[] {20, 50}) {
      points.add(
          new Point(
              MergeMethods.byName("knots-ties"),
              topK,
              0.6,
              OptionalDouble.empty(),
              OptionalLong.empty(),
              Scope.GLOBAL,
              Optional.of(Concat.OUTPUT)));
    }
    points.add(
        new Point(
            MergeMethods.byName("knots-dare-ties"),
            20,
            1.0,
            OptionalDouble.of(0.5),
            OptionalLong.of(3),
            Scope.GLOBAL,
            Optional.of(Concat.OUTPUT)));
    return new SweepFile(
        "sweep.yaml",
        SweepFile.InputKind.ADAPTERS,
        pool,
        Optional.empty(),
        List.of(
            new Combination("all", List.of("rot90", "hflip", "invert")),
            new Combination("hflip+rot90", List.of("hflip", "rot90"))),
        points,
        Optional.of(temp.resolve(output).toString()),
        Optional.of(format),
        Optional.empty(),
        Optional.empty(),
        CommonOptions.defaults());
  }

  private static SweepRunner.Outcome run(SweepFile file, MergeEngine engine) throws IOException {
    List<TableWriter> tables = List.of();
    SweepPlan plan = SweepPlan.of(file, Optional.empty(), Optional.empty(), engine.store());
    return new SweepRunner(
            engine,
            PathOptions.defaults(),
            tables,
            new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
        .run(plan, false);
  }

  @Test
  void aSweepOnSparkWritesTheBytesAndDiagnosticsOfTheSingleProcessSweep() throws IOException {
    SweepRunner.Outcome local = run(file("local"), new LocalEngine(Fixtures.STORE));
    List<String> descriptions = Collections.synchronizedList(new ArrayList<>());
    SparkListener jobs =
        new SparkListener() {
          @Override
          public void onJobStart(SparkListenerJobStart job) {
            descriptions.add(job.properties().getProperty("spark.job.description", ""));
          }
        };
    spark.addSparkListener(jobs);
    SweepRunner.Outcome onSpark;
    try (SparkEngine engine = SparkEngine.start(spark)) {
      onSpark = run(file("spark"), engine);
    } finally {
      spark.removeSparkListener(jobs);
    }
    assertTrue(local.complete() && onSpark.complete());
    for (String combination : List.of("all", "hflip+rot90")) {
      for (Point point : file("x").points()) {
        Path relative = Path.of("points", combination, point.id(), LoraAdapter.WEIGHTS_FILE);
        assertArrayEquals(
            Files.readAllBytes(temp.resolve("local").resolve(relative)),
            Files.readAllBytes(temp.resolve("spark").resolve(relative)),
            relative.toString());
      }
    }
    for (int i = 0; i < local.table().rows().size(); i++) {
      Map<String, String> a = local.table().rows().get(i);
      Map<String, String> b = onSpark.table().rows().get(i);
      for (String column : a.keySet()) {
        if (column.equals("merged_norm") || column.startsWith("retention.")) {
          // the same sums of the same float32 values, in another order: 1e-12 relative
          double x = Double.parseDouble(a.get(column));
          assertEquals(x, Double.parseDouble(b.get(column)), 1e-12 * Math.abs(x), column);
        }
      }
    }
    // one align job per combination (the DARE point shares it), and every job names its point
    assertEquals(
        2,
        descriptions.stream().filter(d -> d.startsWith("align ")).count(),
        descriptions.toString());
    assertTrue(
        descriptions.stream()
            .filter(d -> d.startsWith("merge "))
            .allMatch(d -> d.contains("/points/all/") || d.contains("/points/hflip+rot90/")),
        descriptions.toString());
  }

  /** Points that write nothing report, on Spark, what they report in this JVM: ranks, norms. */
  @Test
  void pointsThatWriteNothingReportWhatTheSingleProcessSweepReports() throws IOException {
    SweepRunner.Outcome local = run(file("local-none", "none"), new LocalEngine(Fixtures.STORE));
    SweepRunner.Outcome onSpark;
    try (SparkEngine engine = SparkEngine.start(spark)) {
      onSpark = run(file("spark-none", "none"), engine);
    }
    assertTrue(local.complete() && onSpark.complete());
    assertEquals(6, onSpark.table().rows().size());
    for (int i = 0; i < local.table().rows().size(); i++) {
      Map<String, String> a = local.table().rows().get(i);
      Map<String, String> b = onSpark.table().rows().get(i);
      assertEquals(a.get("merged_rank_min"), b.get("merged_rank_min"), a.get("point"));
      assertEquals(a.get("merged_rank_max"), b.get("merged_rank_max"), a.get("point"));
      double x = Double.parseDouble(a.get("merged_norm"));
      assertEquals(x, Double.parseDouble(b.get("merged_norm")), 1e-12 * x, a.get("point"));
    }
  }
}
