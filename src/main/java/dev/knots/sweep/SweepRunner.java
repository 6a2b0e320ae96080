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
import dev.knots.plan.MergeInputs;
import dev.knots.plan.PathOptions;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
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
    String output = plan.output();
    store.mkdirs(output);
    String success = store.resolve(output, OutputCommit.SUCCESS);
    if (store.exists(success)) {
      // this run decides anew whether the sweep is complete
      store.deleteRecursively(success);
    }
    replace(store.resolve(output, SweepPlan.RESOLVED_FILE), plan.resolvedYaml());
    PreviousRun previous = restart ? PreviousRun.none(store) : PreviousRun.of(store, output);
    ResultsTable table;
    try (Run run = new Run(plan, previous)) {
      for (Combination combination : plan.file().combinations()) {
        run.combination(combination);
      }
      table = run.table();
    }
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

  /** One run of a sweep: its rows as points end, and the evaluations under way. */
  private final class Run implements AutoCloseable {
    private final SweepPlan plan;
    private final PreviousRun previous;
    private final Map<SweepPoint, Map<String, String>> rows = new LinkedHashMap<>();
    private final Map<SweepPoint, Future<Map<String, String>>> evaluations = new LinkedHashMap<>();
    private final Optional<Evaluator> evaluator;
    private final ExecutorService evaluating;
    private final Optional<HfModelFiles> base;
    private final MergeRunner runner = new MergeRunner(engine, true);
    private final Progress progress;

    Run(SweepPlan plan, PreviousRun previous) throws IOException {
      this.plan = plan;
      this.previous = previous;
      plan.points().forEach(p -> rows.put(p, null));
      evaluator = plan.file().evaluate().map(Evaluator::new);
      evaluating =
          Executors.newFixedThreadPool(
              plan.file().evaluate().map(Evaluation::parallelism).orElse(1));
      base =
          plan.format().writesModel()
              ? Optional.of(HfModelFiles.open(store, plan.file().base().orElseThrow()))
              : Optional.empty();
      progress = new Progress(plan.points().size());
    }

    /** Runs the points of {@code combination} an earlier run did not commit. */
    void combination(Combination combination) throws IOException {
      List<PlannedMerge> toRun = new ArrayList<>();
      Map<PlannedMerge, SweepPoint> pointOf = new IdentityHashMap<>();
      MergeInputs inputs = null;
      for (SweepPoint point : plan.pointsOf(combination)) {
        Optional<Map<String, String>> resumed = previous.row(point);
        if (resumed.isPresent()) {
          done(point, resumed.get(), "already done");
          continue;
        }
        try {
          if (inputs == null) {
            inputs = open(point.request());
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
          failed(point, MergeFailure.reason(e));
        }
      }
      // the points of one alignment run one after another, so that it is computed once
      toRun.sort(Comparator.comparing(SweepRunner::alignmentOrder));
      runner.run(
          toRun,
          new MergeRunner.Progress() {
            @Override
            public void done(PlannedMerge merge, MergeReport report) {
              Run.this.done(pointOf.get(merge), Rows.done(pointOf.get(merge), json(report)), null);
            }

            @Override
            public void failed(PlannedMerge merge, IOException failure) {
              Run.this.failed(pointOf.get(merge), failure.getMessage());
            }
          });
    }

    /** The inputs of a combination, opened once for all its points. */
    private MergeInputs open(MergeRequest request) throws IOException {
      MergeInputs inputs = request.openInputs(store, plan.runOptions().unsupported());
      if (base.isPresent()) {
        ModelWriter.checkCompatible(base.get(), inputs.modules(), inputs.fanInFanOut());
      }
      return inputs;
    }

    /** A point merged (or kept), evaluated now unless its row has its evaluation. */
    private void done(SweepPoint point, Map<String, String> row, String note) {
      rows.put(point, row);
      if (evaluator.isPresent() && !Rows.hasEvaluation(row)) {
        evaluations.put(point, evaluating.submit(() -> evaluate(point, row)));
      } else {
        progress.finished(point, row, note);
      }
    }

    private void failed(SweepPoint point, String error) {
      Map<String, String> row = Rows.failed(point, error);
      rows.put(point, row);
      progress.finished(point, row, null);
    }

    private Map<String, String> evaluate(SweepPoint point, Map<String, String> row) {
      Map<String, String> values = new LinkedHashMap<>();
      values.put("output", point.request().output());
      values.put("combination", point.combination().id());
      values.put("point", point.point().id());
      values.put("adapters", String.join(",", point.combination().names()));
      Map<String, String> evaluated = Rows.evaluated(row, evaluator.orElseThrow().evaluate(values));
      progress.finished(point, evaluated, null);
      return evaluated;
    }

    /** Every row, once the evaluations under way are over. */
    ResultsTable table() throws IOException {
      try {
        for (Map.Entry<SweepPoint, Future<Map<String, String>>> evaluation :
            evaluations.entrySet()) {
          rows.put(evaluation.getKey(), evaluation.getValue().get());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("The sweep was interrupted while evaluating its points", e);
      } catch (ExecutionException e) {
        throw new IllegalStateException("An evaluation failed unexpectedly", e.getCause());
      }
      return new ResultsTable(List.copyOf(plan.file().pool().keySet()), List.copyOf(rows.values()));
    }

    @Override
    public void close() {
      evaluating.shutdownNow();
    }
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

  private static ObjectNode json(MergeReport report) {
    try {
      return Json.parseObject(report.toJson(), "merge report");
    } catch (FileFormatException e) {
      throw new IllegalStateException("A merge report is not valid JSON", e);
    }
  }

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
    private final long start = System.nanoTime();
    private int finished;

    Progress(int total) {
      this.total = total;
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
