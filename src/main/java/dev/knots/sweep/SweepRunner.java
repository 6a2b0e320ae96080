package dev.knots.sweep;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.Storage;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.job.MergeEngine;
import dev.knots.job.MergeFailure;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergeRunner;
import dev.knots.job.ModelWriter;
import dev.knots.job.OutputCommit;
import dev.knots.job.PlannedMerge;
import dev.knots.job.RunOptions;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.PathOptions;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs a sweep: every point of every combination, in one application, each a real merge committed
 * to its own directory; a combination's inputs are opened once and its alignment computed once per
 * orientation and reused by its points. Points already done (their directory committed with the
 * same inputs and options) are not merged again. Writes {@code results.csv}, {@code best.json} with
 * a selection, and {@code _SUCCESS} once every point is done.
 */
public final class SweepRunner {
  private final MergeEngine engine;
  private final FileStore store;
  private final PathOptions paths;
  private final List<TableWriter> tables;
  private final PrintStream out;

  /**
   * @param paths the alignment paths' options, resolved against the Spark configuration
   * @param tables the formats the results table is written in besides CSV
   * @param out where progress lines and the closing table go
   */
  public SweepRunner(
      MergeEngine engine, PathOptions paths, List<TableWriter> tables, PrintStream out) {
    this.engine = engine;
    this.store = engine.store();
    this.paths = paths;
    this.tables = List.copyOf(tables);
    this.out = out;
  }

  /** What a sweep left: its table, and whether every point is done. */
  public record Outcome(ResultsTable table, boolean complete) {}

  /**
   * Runs {@code plan}, resuming from what an earlier run of it committed unless {@code restart}.
   */
  public Outcome run(SweepPlan plan, boolean restart) throws IOException {
    long start = System.nanoTime();
    String output = plan.output();
    store.mkdirs(output);
    String success = store.resolve(output, OutputCommit.SUCCESS);
    if (store.exists(success)) {
      // this run decides anew whether the sweep is complete
      store.deleteRecursively(success);
    }
    replace(store.resolve(output, SweepPlan.RESOLVED_FILE), plan.resolvedYaml());
    Map<String, Map<String, String>> previous =
        restart ? Map.of() : previousRows(store.resolve(output, SweepPlan.RESULTS_CSV));
    Map<SweepPoint, Map<String, String>> rows = new LinkedHashMap<>();
    plan.points().forEach(p -> rows.put(p, null));
    Progress progress = new Progress(plan.points().size(), start);
    Optional<Evaluator> evaluator = plan.file().evaluate().map(Evaluator::new);
    ExecutorService evaluations =
        Executors.newFixedThreadPool(plan.file().evaluate().map(Evaluation::parallelism).orElse(1));
    Map<SweepPoint, Future<Map<String, String>>> evaluated = new LinkedHashMap<>();
    try {
      MergeRunner runner = new MergeRunner(engine, true);
      RunOptions options = plan.runOptions();
      Optional<HfModelFiles> base =
          plan.format().writesModel()
              ? Optional.of(HfModelFiles.open(store, plan.file().base().orElseThrow()))
              : Optional.empty();
      for (Combination combination : plan.file().combinations()) {
        List<PlannedMerge> toRun = new ArrayList<>();
        Map<PlannedMerge, SweepPoint> pointOf = new LinkedHashMap<>();
        MergeInputs inputs = null;
        for (SweepPoint point : plan.pointsOf(combination)) {
          Optional<Map<String, String>> resumed =
              restart ? Optional.empty() : resumed(point, previous);
          if (resumed.isPresent()) {
            rows.put(point, resumed.get());
            if (evaluator.isPresent() && !Rows.hasEvaluation(resumed.get())) {
              evaluated.put(
                  point,
                  evaluations.submit(
                      () -> evaluate(evaluator.get(), point, resumed.get(), progress)));
            } else {
              progress.finished(point, resumed.get(), "already done");
            }
            continue;
          }
          try {
            if (inputs == null) {
              inputs = point.request().openInputs(store, options.unsupported());
              if (base.isPresent()) {
                ModelWriter.checkCompatible(base.get(), inputs.modules(), inputs.fanInFanOut());
              }
            }
            PlannedMerge planned =
                new PlannedMerge(
                    point.request(),
                    inputs,
                    Planner.plan(inputs, point.request().method(), point.request().concat(), paths),
                    base);
            toRun.add(planned);
            pointOf.put(planned, point);
          } catch (IOException | RuntimeException e) {
            Map<String, String> row = Rows.failed(point, MergeFailure.reason(e));
            rows.put(point, row);
            progress.finished(point, row, null);
          }
        }
        // the points of one alignment run one after another, so it is computed once
        toRun.sort(Comparator.comparing(SweepRunner::alignmentOrder));
        runner.run(
            toRun,
            new MergeRunner.Progress() {
              @Override
              public void done(PlannedMerge merge, MergeReport report) {
                SweepPoint point = pointOf.get(merge);
                Map<String, String> row = Rows.done(point, json(report));
                rows.put(point, row);
                if (evaluator.isPresent()) {
                  evaluated.put(
                      point,
                      evaluations.submit(() -> evaluate(evaluator.get(), point, row, progress)));
                } else {
                  progress.finished(point, row, null);
                }
              }

              @Override
              public void failed(PlannedMerge merge, IOException failure) {
                SweepPoint point = pointOf.get(merge);
                Map<String, String> row = Rows.failed(point, failure.getMessage());
                rows.put(point, row);
                progress.finished(point, row, null);
              }
            });
      }
      for (Map.Entry<SweepPoint, Future<Map<String, String>>> evaluation : evaluated.entrySet()) {
        rows.put(evaluation.getKey(), evaluation.getValue().get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("The sweep was interrupted while evaluating its points", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("An evaluation failed unexpectedly", e.getCause());
    } finally {
      evaluations.shutdownNow();
    }
    ResultsTable table =
        new ResultsTable(List.copyOf(plan.file().pool().keySet()), List.copyOf(rows.values()));
    replace(store.resolve(output, SweepPlan.RESULTS_CSV), table.toCsv());
    for (TableWriter writer : tables) {
      replace(store.resolve(output, writer.fileName()), location -> writer.write(location, table));
    }
    Selections selections = new Selections(plan.file().select(), table);
    if (plan.file().select().isPresent()) {
      replace(store.resolve(output, SweepPlan.BEST_FILE), selections.bestJson());
    }
    out.print(selections.summary());
    boolean complete = table.rows().stream().allMatch(r -> Rows.DONE.equals(r.get("status")));
    if (complete) {
      Storage.writeAll(store.outputFile(success), new byte[0]);
    }
    return new Outcome(table, complete);
  }

  /**
   * Writes {@code bytes} to {@code location} in place of what an earlier run wrote there: written
   * beside it first and renamed, so that a reader finds the old file, none or the new one.
   */
  private void replace(String location, byte[] bytes) throws IOException {
    replace(location, next -> Storage.writeAll(store.outputFile(next), bytes));
  }

  /** A write to a location that does not exist yet. */
  private interface Write {
    void to(String location) throws IOException;
  }

  private void replace(String location, Write write) throws IOException {
    String name = location.substring(location.lastIndexOf('/') + 1);
    String parent = location.substring(0, location.lastIndexOf('/'));
    String next = store.resolve(parent, "_" + name + ".knots-writing-" + UUID.randomUUID());
    write.to(next);
    if (store.exists(location)) {
      store.deleteRecursively(location);
    }
    store.rename(next, location);
  }

  /** Sorts the points of one alignment together: KnOTS by orientation first, then the others. */
  private static String alignmentOrder(PlannedMerge merge) {
    MergeRequest request = merge.request();
    return request.method().aligned() ? "0-" + request.concat() : "1";
  }

  private Map<String, String> evaluate(
      Evaluator evaluator, SweepPoint point, Map<String, String> row, Progress progress) {
    Map<String, String> values = new LinkedHashMap<>();
    values.put("output", point.request().output());
    values.put("combination", point.combination().id());
    values.put("point", point.point().id());
    values.put("adapters", String.join(",", point.combination().names()));
    Map<String, String> evaluated = Rows.evaluated(row, evaluator.evaluate(values));
    progress.finished(point, evaluated, null);
    return evaluated;
  }

  /**
   * The row of a point an earlier run committed with the same inputs and options: its report's,
   * with the previous table's evaluation when it has one.
   */
  private Optional<Map<String, String>> resumed(
      SweepPoint point, Map<String, Map<String, String>> previous) throws IOException {
    MergeRequest request = point.request();
    if (!request.format().writes()) {
      return Optional.empty();
    }
    String directory = request.output();
    if (!store.exists(store.resolve(directory, OutputCommit.SUCCESS))) {
      return Optional.empty();
    }
    ObjectNode report;
    try {
      report =
          Json.parseObject(
              Storage.readAll(
                  store.inputFile(store.resolve(directory, MergeReport.FILE_NAME)), REPORT_LIMIT),
              "merge report of " + point.name());
    } catch (FileFormatException | java.io.FileNotFoundException e) {
      return Optional.empty();
    }
    // through JSON text, as the report was, so that numbers compare as the same kind of node
    ObjectNode wanted =
        Json.parseObject(Json.compact(MergeReport.merge(request)), "a merge's options");
    ObjectNode options = report.path("options").deepCopy();
    if (options.isObject()) {
      options.remove("overwrite");
    }
    if (!wanted.get("inputs").equals(report.path("inputs"))
        || !wanted.get("options").equals(options)) {
      return Optional.empty();
    }
    Map<String, String> row = Rows.done(point, report);
    Map<String, String> before = previous.get(point.name());
    if (before != null && Rows.DONE.equals(before.get("status"))) {
      before.forEach(
          (column, value) -> {
            if (column.startsWith(ResultsTable.EVAL)) {
              row.put(column, value);
            }
          });
    }
    return Optional.of(row);
  }

  /** The previous run's rows, by {@code <combination>/<point>}; none if it wrote no table. */
  private Map<String, Map<String, String>> previousRows(String location) throws IOException {
    if (!store.exists(location)) {
      return Map.of();
    }
    String text =
        new String(
            Storage.readAll(store.inputFile(location), REPORT_LIMIT), StandardCharsets.UTF_8);
    Map<String, Map<String, String>> rows = new LinkedHashMap<>();
    try {
      for (Map<String, String> row : ResultsTable.parseCsv(text)) {
        if (row.containsKey("combination") && row.containsKey("point")) {
          rows.put(row.get("combination") + "/" + row.get("point"), row);
        }
      }
    } catch (IllegalArgumentException e) {
      // a table this run cannot read is rewritten; its evaluations are run again
      return Map.of();
    }
    return rows;
  }

  private static ObjectNode json(MergeReport report) {
    try {
      return Json.parseObject(report.toJson(), "merge report");
    } catch (FileFormatException e) {
      throw new IllegalStateException("A merge report is not valid JSON", e);
    }
  }

  private static final int REPORT_LIMIT = 64 << 20;

  /** A number as a progress line shows it: 4 significant digits. */
  private static String brief(String number) {
    try {
      return String.format(Locale.ROOT, "%.4g", Double.parseDouble(number));
    } catch (NumberFormatException e) {
      return number;
    }
  }

  /** Prints one line per finished point: done/total, elapsed time. */
  private final class Progress {
    private final int total;
    private final long start;
    private int finished;

    Progress(int total, long start) {
      this.total = total;
      this.start = start;
    }

    synchronized void finished(SweepPoint point, Map<String, String> row, String note) {
      finished++;
      StringBuilder line =
          new StringBuilder(
              String.format(
                  Locale.ROOT,
                  "[%d/%d, %.1f s] %s %s: %s",
                  finished,
                  total,
                  (System.nanoTime() - start) / 1e9,
                  point.combination().id(),
                  point.point().id(),
                  note != null ? note : row.get("status")));
      if (row.containsKey("seconds") && note == null) {
        line.append(" in ").append(row.get("seconds")).append(" s");
      }
      row.entrySet().stream()
          .filter(e -> e.getKey().startsWith(ResultsTable.EVAL))
          .limit(3)
          .forEach(
              e -> line.append(", ").append(e.getKey()).append(' ').append(brief(e.getValue())));
      if (row.containsKey(ResultsTable.ERROR)) {
        line.append(": ").append(row.get(ResultsTable.ERROR));
      }
      out.println(line);
    }
  }
}
