package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.ForkedJvm;
import dev.knots.PeftCheck;
import dev.knots.job.LocalEngine;
import dev.knots.plan.PathOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/sweep-pictures runs notebooks/sweep_results.ipynb headless on a sweep's results.csv and
 * writes its pictures next to the table. Needs the project's Python environment (see {@link
 * PeftCheck#python()}).
 */
class SweepPicturesTest {
  private static final Path SCRIPT = Path.of("scripts/sweep-pictures").toAbsolutePath();
  private static final Path NOTEBOOK = Path.of("notebooks/sweep_results.ipynb").toAbsolutePath();
  private static final List<String> PICTURES =
      List.of(
          "heatmap_metric.png",
          "heatmap_retention.png",
          "best_per_task.png",
          "knots_vs_baseline.png");
  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

  @TempDir Path temp;

  @Test
  void drawsTheFourPicturesOfAnEvaluatedSweepIntoItsDirectory() throws Exception {
    PeftCheck.python();
    Path sweep = sweep(results(true));
    byte[] notebook = Files.readAllBytes(NOTEBOOK);

    ForkedJvm.Result result = pictures(sweep);

    assertEquals(0, result.exitCode(), result.out() + result.err());
    for (String picture : PICTURES) {
      assertPng(sweep.resolve(picture));
      assertTrue(result.out().contains("wrote " + sweep.resolve(picture)), result.out());
    }
    assertTrue(Files.isRegularFile(sweep.resolve("sweep_results.executed.ipynb")));
    assertArrayEquals(notebook, Files.readAllBytes(NOTEBOOK), "the committed notebook changed");
  }

  /**
   * The whole way a user goes: a small sweep of the bundled adapters, each point scored by the
   * bundled evaluator, then the notebook on its table.
   */
  @Test
  void drawsARealSweepScoredByTheBundledEvaluator() throws Exception {
    PeftCheck.python();
    Path sweep = temp.resolve("real-sweep");
    String yaml =
        String.join(
            "\n",
            "adapters:",
            "  rot90: examples/digits/adapters/rot90",
            "  hflip: examples/digits/adapters/hflip",
            "grid:",
            "  method: [knots-ties, ties]",
            "  top-k: 20",
            "  scaling: [0.6, 1.0]",
            "output: " + sweep,
            "evaluate:",
            "  command: [scripts/python, scripts/evaluate_merge.py, --adapter, '{output}',"
                + " --tasks, '{adapters}', --split, val, --json]",
            "  parallelism: 2",
            "select: {metric: eval.avg_norm}",
            "");
    SweepPlan plan =
        SweepPlan.of(
            SweepFile.parse("real.yaml", yaml), Optional.empty(), Optional.empty(), Fixtures.STORE);
    SweepRunner.Outcome outcome =
        new SweepRunner(
                new LocalEngine(Fixtures.STORE),
                PathOptions.defaults(),
                List.of(),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
            .run(plan, false);
    assertTrue(outcome.complete(), outcome.table().rows().toString());
    for (Map<String, String> row : outcome.table().rows()) {
      double score = Double.parseDouble(row.get("eval.avg_norm"));
      assertTrue(score > 0 && score < 2, row.toString());
      assertTrue(
          row.containsKey("eval.acc.rot90") && row.containsKey("eval.acc.hflip"), row.toString());
    }

    ForkedJvm.Result result = pictures(sweep);

    assertEquals(0, result.exitCode(), result.out() + result.err());
    for (String picture : PICTURES) {
      assertPng(sweep.resolve(picture));
    }
  }

  @Test
  void withoutAnEvaluatorDrawsWhatTheDiagnosticsAllowAndSaysWhatItSkipped() throws Exception {
    PeftCheck.python();
    Path sweep = sweep(results(false));

    ForkedJvm.Result result = pictures(sweep);

    assertEquals(0, result.exitCode(), result.out() + result.err());
    for (String picture : List.of("heatmap_metric.png", "heatmap_retention.png")) {
      assertPng(sweep.resolve(picture));
    }
    assertPng(sweep.resolve("knots_vs_baseline.png"));
    assertFalse(Files.exists(sweep.resolve("best_per_task.png")));
    assertTrue(
        result
            .out()
            .contains(
                "skipped best_per_task.png: no point has eval.avg_norm and eval.acc.<task> values"
                    + " (no evaluator ran, or every evaluation failed)"),
        result.out());
  }

  @Test
  void failsWhenTheNotebookFails() throws Exception {
    PeftCheck.python();
    Path sweep = temp.resolve("sweep");
    Files.createDirectories(sweep);
    Files.writeString(sweep.resolve("results.csv"), "not,a sweep table\r\n1,2\r\n");

    ForkedJvm.Result result = pictures(sweep);

    assertEquals(1, result.exitCode(), result.out() + result.err());
    assertTrue(
        result
            .err()
            .contains(
                "sweep-pictures: the notebook failed on "
                    + sweep.resolve("results.csv")
                    + " (the error is above)"),
        result.err());
  }

  @Test
  void refusesADirectoryWithoutAResultsTable() throws Exception {
    ForkedJvm.Result result = pictures(temp);

    assertEquals(2, result.exitCode(), result.err());
    assertEquals(
        "sweep-pictures: " + temp + " holds no results.csv; give the output directory of a sweep\n",
        result.err());
  }

  private ForkedJvm.Result pictures(Path sweep) throws IOException, InterruptedException {
    // a timeout only against a hang
    return ForkedJvm.start(temp, List.of(SCRIPT.toString(), sweep.toString()), Map.of())
        .finish(10, TimeUnit.MINUTES);
  }

  private Path sweep(ResultsTable table) throws IOException {
    Path sweep = temp.resolve("sweep");
    Files.createDirectories(sweep);
    Files.write(sweep.resolve("results.csv"), table.toCsv());
    return sweep;
  }

  /**
   * A sweep's table as the sweep writes it: a pool of three adapters, the whole pool and one pair,
   * knots-ties and ties at top-k 20/50 x scaling 0.6/1, with retention per merged input and, when
   * {@code evaluated}, the evaluator's metrics; one point failed and one failed its evaluation.
   */
  private static ResultsTable results(boolean evaluated) {
    List<String> pool = List.of("rot90", "hflip", "invert");
    Map<String, List<String>> combinations = new LinkedHashMap<>();
    combinations.put("all", pool);
    combinations.put("rot90+hflip", List.of("rot90", "hflip"));
    Random random = new Random(17);
    List<Map<String, String>> rows = new ArrayList<>();
    for (Map.Entry<String, List<String>> combination : combinations.entrySet()) {
      for (String method : List.of("knots-ties", "ties")) {
        for (String topK : List.of("20", "50")) {
          for (String scaling : List.of("0.6", "1")) {
            String point = method + "_topk" + topK + "_s" + scaling;
            Map<String, String> row = new LinkedHashMap<>();
            row.put("combination", combination.getKey());
            row.put("point", point);
            row.put("adapters", String.join(";", combination.getValue()));
            row.put("method", method);
            row.put("top_k", topK);
            row.put("scaling", scaling);
            row.put("scope", "global");
            row.put("concat", method.startsWith("knots-") ? "output" : "");
            row.put("status", "done");
            row.put("output", "out/sweep/points/" + combination.getKey() + "/" + point);
            row.put("seconds", format(0.5 + random.nextDouble()));
            row.put("merged_rank_min", "13");
            row.put("merged_rank_max", "64");
            row.put("merged_norm", format(1 + 2 * random.nextDouble()));
            double accuracies = 0;
            for (String name : combination.getValue()) {
              row.put(ResultsTable.RETENTION + name, format(0.2 + 0.7 * random.nextDouble()));
              double accuracy = 0.3 + 0.5 * random.nextDouble();
              accuracies += accuracy;
              if (evaluated) {
                row.put(ResultsTable.EVAL + "acc." + name, format(accuracy));
              }
            }
            if (evaluated) {
              double mean = accuracies / combination.getValue().size();
              row.put(ResultsTable.EVAL + "avg_acc", format(mean));
              row.put(ResultsTable.EVAL + "avg_norm", format(mean / 0.82));
            }
            rows.add(row);
          }
        }
      }
    }
    Map<String, String> failed = rows.get(5);
    failed.keySet().removeIf(c -> c.startsWith(ResultsTable.EVAL) || c.startsWith("merged_"));
    failed.keySet().removeIf(c -> c.startsWith(ResultsTable.RETENTION) || c.equals("seconds"));
    failed.put("status", "failed");
    failed.put(ResultsTable.ERROR, "task 3 failed 4 times: out of memory, giving up");
    Map<String, String> evaluationFailed = rows.get(10);
    evaluationFailed.keySet().removeIf(c -> c.startsWith(ResultsTable.EVAL));
    evaluationFailed.put("status", "eval-failed");
    evaluationFailed.put(ResultsTable.ERROR, "the evaluator exited with status 1: \"killed\"");
    return new ResultsTable(pool, rows);
  }

  private static String format(double value) {
    return String.format(Locale.ROOT, "%.4f", value);
  }

  private static void assertPng(Path file) throws IOException {
    assertTrue(Files.isRegularFile(file), file + " was not written");
    try (InputStream in = Files.newInputStream(file)) {
      byte[] start = in.readNBytes(PNG_SIGNATURE.length);
      assertArrayEquals(PNG_SIGNATURE, start, file + " is no PNG: " + Arrays.toString(start));
    }
  }
}
