package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.cli.ParquetResults;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.LocalEngine;
import dev.knots.job.LocalRuns;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputCommit;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.Scope;
import dev.knots.plan.PathOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.PrimitiveType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sweeps in this JVM (the single-process engine): layout, table, resume, failures, evaluator. */
class SweepRunnerTest {

  @TempDir Path temp;

  private final ByteArrayOutputStream printed = new ByteArrayOutputStream();

  private static Point point(String method, double topK, double scaling) {
    boolean aligned = MergeMethods.byName(method).aligned();
    return new Point(
        MergeMethods.byName(method),
        topK,
        scaling,
        OptionalDouble.empty(),
        OptionalLong.empty(),
        Scope.GLOBAL,
        aligned ? Optional.of(Concat.OUTPUT) : Optional.empty());
  }

  private static LinkedHashMap<String, String> pool(String... names) {
    LinkedHashMap<String, String> pool = new LinkedHashMap<>();
    for (String name : names) {
      pool.put(name, Fixtures.path("adapters/" + name));
    }
    return pool;
  }

  private SweepFile file(
      LinkedHashMap<String, String> pool,
      List<Combination> combinations,
      List<Point> points,
      String format,
      Optional<Evaluation> evaluate,
      Optional<Selection> select) {
    return new SweepFile(
        temp.resolve("sweep.yaml").toString(),
        SweepFile.InputKind.ADAPTERS,
        pool,
        Optional.empty(),
        combinations,
        points,
        Optional.of(temp.resolve("sweep").toString()),
        Optional.of(format),
        evaluate,
        select,
        CommonOptions.defaults());
  }

  /** results.parquet, as the command line writes it. */
  private final List<TableWriter> tables = List.of(new ParquetResults(new Configuration()));

  private SweepRunner.Outcome run(SweepFile file, boolean restart) throws IOException {
    SweepPlan plan = SweepPlan.of(file, Optional.empty(), Optional.empty(), Fixtures.STORE);
    plan.checkLocations(Fixtures.STORE);
    return new SweepRunner(
            new LocalEngine(Fixtures.STORE),
            PathOptions.defaults(),
            tables,
            new PrintStream(printed, true, StandardCharsets.UTF_8))
        .run(plan, restart);
  }

  private static final List<Point> POINTS =
      List.of(point("knots-ties", 20, 0.6), point("knots-ties", 50, 1.0), point("ties", 20, 0.6));

  private static final List<Combination> COMBINATIONS =
      List.of(
          new Combination("all", List.of("rot90", "hflip", "invert")),
          new Combination("rot90+hflip", List.of("rot90", "hflip")));

  @Test
  void everyPointIsTheMergeMergeWouldWriteAndTheTableHasARowForEach() throws IOException {
    SweepFile file =
        file(
            pool("rot90", "hflip", "invert"),
            COMBINATIONS,
            POINTS,
            "adapter",
            Optional.empty(),
            Optional.of(new Selection("merged_norm", true)));
    SweepRunner.Outcome outcome = run(file, false);

    assertTrue(outcome.complete(), printed.toString());
    Path sweep = temp.resolve("sweep");
    assertTrue(Files.exists(sweep.resolve(OutputCommit.SUCCESS)));
    assertTrue(Files.exists(sweep.resolve("sweep.yaml")));
    List<Map<String, String>> rows =
        ResultsTable.parseCsv(Files.readString(sweep.resolve("results.csv")));
    assertEquals(6, rows.size());
    for (Combination combination : COMBINATIONS) {
      for (Point point : POINTS) {
        Path directory = sweep.resolve("points").resolve(combination.id()).resolve(point.id());
        Path alone = temp.resolve("alone").resolve(combination.id()).resolve(point.id());
        MergeRequest request =
            new MergeRequest(
                combination.names().stream().map(n -> Fixtures.path("adapters/" + n)).toList(),
                point.method(),
                point.parameters(),
                point.concat().orElse(Concat.OUTPUT),
                alone.toString(),
                dev.knots.job.OutputFormat.ADAPTER,
                Optional.empty());
        LocalRuns.run(request, Fixtures.STORE, false);
        assertArrayEquals(
            Files.readAllBytes(alone.resolve(LoraAdapter.WEIGHTS_FILE)),
            Files.readAllBytes(directory.resolve(LoraAdapter.WEIGHTS_FILE)),
            combination.id() + "/" + point.id());
        assertTrue(Files.exists(directory.resolve(OutputCommit.SUCCESS)));
        Map<String, String> row =
            rows.stream()
                .filter(
                    r ->
                        r.get("combination").equals(combination.id())
                            && r.get("point").equals(point.id()))
                .findFirst()
                .orElseThrow();
        assertEquals("done", row.get("status"));
        assertEquals(String.join(";", combination.names()), row.get("adapters"));
        assertTrue(Double.parseDouble(row.get("merged_norm")) > 0, row.toString());
        for (String name : combination.names()) {
          assertTrue(row.containsKey("retention." + name), row.toString());
        }
        if (combination.names().size() == 2) {
          assertFalse(row.containsKey("retention.invert"), "empty for inputs not merged");
        }
      }
    }
    assertEquals(rows, parquetRows(sweep.resolve("results.parquet")), "the same rows in Parquet");
    String best = Files.readString(sweep.resolve("best.json"));
    assertTrue(best.contains("\"rot90+hflip\"") && best.contains("\"merged_norm\""), best);
    assertTrue(printed.toString().contains("[6/6,"), printed.toString());
  }

  /** The rows of a Parquet table, numbers as the CSV writes them. */
  private static List<Map<String, String>> parquetRows(Path file) throws IOException {
    List<Map<String, String>> rows = new ArrayList<>();
    try (ParquetReader<Group> reader =
        ParquetReader.builder(
                new GroupReadSupport(), new org.apache.hadoop.fs.Path(file.toString()))
            .build()) {
      for (Group group = reader.read(); group != null; group = reader.read()) {
        Map<String, String> row = new LinkedHashMap<>();
        GroupType type = group.getType();
        for (int i = 0; i < type.getFieldCount(); i++) {
          if (group.getFieldRepetitionCount(i) == 0) {
            continue;
          }
          String name = type.getFieldName(i);
          boolean number =
              type.getType(i).asPrimitiveType().getPrimitiveTypeName()
                  == PrimitiveType.PrimitiveTypeName.DOUBLE;
          assertEquals(ResultsTable.numeric(name), number, name);
          row.put(name, number ? csvNumber(name, group.getDouble(i, 0)) : group.getString(i, 0));
        }
        rows.add(row);
      }
    }
    return rows;
  }

  private static String csvNumber(String column, double value) {
    return switch (column) {
      case "seconds" -> String.format(java.util.Locale.ROOT, "%.3f", value);
      case "merged_norm" -> Double.toString(value);
      default ->
          column.startsWith("retention.") || column.startsWith("eval.")
              ? Double.toString(value)
              : Rows.number(value);
    };
  }

  @Test
  void aRerunResumesWithoutMergingAgainAndRestartMergesAll() throws IOException {
    SweepFile file =
        file(
            pool("rot90", "hflip", "invert"),
            COMBINATIONS,
            POINTS,
            "adapter",
            Optional.empty(),
            Optional.empty());
    run(file, false);
    Path sweep = temp.resolve("sweep");
    Path report =
        sweep.resolve("points/all").resolve(POINTS.get(0).id()).resolve("merge_report.json");
    FileTime written = Files.getLastModifiedTime(report);
    String table = Files.readString(sweep.resolve("results.csv"));

    printed.reset();
    SweepRunner.Outcome again = run(file, false);
    assertTrue(again.complete());
    assertEquals(written, Files.getLastModifiedTime(report), "not merged again");
    assertEquals(6, printed.toString().split("already done", -1).length - 1, printed.toString());
    assertEquals(table, Files.readString(sweep.resolve("results.csv")), "the same table");

    printed.reset();
    run(file, true);
    assertFalse(printed.toString().contains("already done"), printed.toString());
  }

  @Test
  void aFailedPointIsRecordedAndTheOthersGoOn() throws IOException {
    LinkedHashMap<String, String> pool = pool("rot90", "hflip");
    pool.put("missing", temp.resolve("no-such-adapter").toString());
    SweepFile file =
        file(
            pool,
            List.of(
                new Combination("rot90+missing", List.of("rot90", "missing")),
                new Combination("rot90+hflip", List.of("rot90", "hflip"))),
            POINTS.subList(0, 2),
            "adapter",
            Optional.empty(),
            Optional.empty());
    SweepRunner.Outcome outcome = run(file, false);

    assertFalse(outcome.complete());
    Path sweep = temp.resolve("sweep");
    assertFalse(Files.exists(sweep.resolve(OutputCommit.SUCCESS)));
    List<Map<String, String>> rows =
        ResultsTable.parseCsv(Files.readString(sweep.resolve("results.csv")));
    assertEquals(4, rows.size());
    for (Map<String, String> row : rows) {
      boolean broken = row.get("combination").equals("rot90+missing");
      assertEquals(broken ? "failed" : "done", row.get("status"), row.toString());
      if (broken) {
        assertTrue(row.get("error").contains("no-such-adapter"), row.toString());
      }
    }
  }

  @Test
  void theEvaluatorsMetricsBecomeColumnsAndItsFailuresAreRecorded() throws IOException {
    Path evaluator = temp.resolve("evaluate.sh");
    Files.writeString(
        evaluator,
        String.join(
            "\n",
            "#!/bin/sh",
            "# $1 output, $2 point, $3 adapters",
            "test -f \"$1/adapter_config.json\" || { echo \"no adapter at $1\" >&2; exit 3; }",
            "case \"$2\" in *topk50*) echo 'broken on purpose' >&2; exit 4 ;; esac",
            "echo 'some log line'",
            "echo \"{\\\"score\\\": 0.5, \\\"inputs\\\": $(echo \"$3\" | tr ',' '\\n' | wc -l)}\"",
            ""));
    evaluator.toFile().setExecutable(true);
    SweepFile file =
        file(
            pool("rot90", "hflip", "invert"),
            COMBINATIONS.subList(0, 1),
            POINTS.subList(0, 2),
            "adapter",
            Optional.of(
                new Evaluation(
                    List.of(evaluator.toString(), "{output}", "{point}", "{adapters}"), 60, 2)),
            Optional.of(new Selection("eval.score", true)));
    SweepRunner.Outcome outcome = run(file, false);

    assertFalse(outcome.complete(), "an evaluation failed");
    List<Map<String, String>> rows =
        ResultsTable.parseCsv(Files.readString(temp.resolve("sweep/results.csv")));
    Map<String, String> evaluated = rows.get(0);
    assertEquals("done", evaluated.get("status"), evaluated.toString());
    assertEquals(0.5, Double.parseDouble(evaluated.get("eval.score")));
    assertEquals(3, Double.parseDouble(evaluated.get("eval.inputs")));
    Map<String, String> failed = rows.get(1);
    assertEquals("eval-failed", failed.get("status"));
    assertTrue(failed.get("error").contains("status 4: broken on purpose"), failed.toString());
    assertTrue(
        Files.exists(
            temp.resolve("sweep/points/all").resolve(POINTS.get(1).id()).resolve("_SUCCESS")),
        "the point's merge output stays");
  }

  @Test
  void formatNoneWritesNoPointButTheTable() throws IOException {
    SweepFile file =
        file(
            pool("rot90", "hflip", "invert"),
            COMBINATIONS.subList(1, 2),
            POINTS,
            "none",
            Optional.empty(),
            Optional.empty());
    assertTrue(run(file, false).complete());
    Path sweep = temp.resolve("sweep");
    assertFalse(Files.exists(sweep.resolve("points")));
    List<Map<String, String>> rows =
        ResultsTable.parseCsv(Files.readString(sweep.resolve("results.csv")));
    assertEquals(3, rows.size());
    rows.forEach(
        r -> assertTrue(r.containsKey("merged_norm") && !r.containsKey("output"), r.toString()));
  }

  @Test
  void anOutputHoldingSomethingElseIsRefusedAndAnEarlierSweepsIsNot() throws IOException {
    SweepFile file =
        file(
            pool("rot90", "hflip"),
            COMBINATIONS.subList(1, 2),
            POINTS.subList(0, 1),
            "adapter",
            Optional.empty(),
            Optional.empty());
    SweepPlan plan = SweepPlan.of(file, Optional.empty(), Optional.empty(), Fixtures.STORE);
    Path output = temp.resolve("sweep");
    plan.checkOutput(Fixtures.STORE);
    Files.createDirectories(output);
    plan.checkOutput(Fixtures.STORE);
    Files.writeString(output.resolve("notes.txt"), "mine");
    InvalidOptionException e =
        assertThrows(InvalidOptionException.class, () -> plan.checkOutput(Fixtures.STORE));
    assertTrue(
        e.getMessage().contains("--output") && e.getMessage().contains("holds no sweep"),
        e.getMessage());
    Files.delete(output.resolve("notes.txt"));
    run(file, false);
    plan.checkOutput(Fixtures.STORE);
  }
}
