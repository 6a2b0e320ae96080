package dev.knots.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.Locations;
import dev.knots.job.OutputFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The rows of a sweep's results table, built from what each point's merge reported. */
final class Rows {
  static final String DONE = "done";
  static final String FAILED = "failed";
  static final String EVAL_FAILED = "eval-failed";

  private Rows() {}

  /** The grid's columns of {@code point}; empty where a key does not apply to its method. */
  static Map<String, String> pointColumns(Point point) {
    Map<String, String> columns = new LinkedHashMap<>();
    columns.put("method", point.method().name());
    columns.put("top_k", number(point.topK()));
    columns.put("scaling", number(point.scaling()));
    columns.put(
        "dare_drop", point.dareDrop().isPresent() ? number(point.dareDrop().getAsDouble()) : "");
    columns.put("seed", point.seed().isPresent() ? Long.toString(point.seed().getAsLong()) : "");
    columns.put("scope", point.scope().optionValue());
    columns.put("concat", point.concat().map(c -> c.name().toLowerCase(Locale.ROOT)).orElse(""));
    return columns;
  }

  /** The columns every row of {@code point} has, whatever became of it. */
  private static Map<String, String> start(SweepPoint point, String status) {
    Map<String, String> row = new LinkedHashMap<>();
    row.put("combination", point.combination().id());
    row.put("point", point.point().id());
    row.put("adapters", String.join(";", point.combination().names()));
    row.putAll(pointColumns(point.point()));
    row.put("status", status);
    row.put(
        "output",
        point.request().format() == OutputFormat.NONE
            ? ""
            : Locations.redact(point.request().output()));
    return row;
  }

  /** A merged point's row, from its {@code merge_report.json}. */
  static Map<String, String> done(SweepPoint point, ObjectNode report) {
    Map<String, String> row = start(point, DONE);
    row.put(
        "seconds",
        String.format(Locale.ROOT, "%.3f", report.at("/timings/totalSeconds").asDouble()));
    int min = Integer.MAX_VALUE;
    int max = 0;
    for (JsonNode module : report.path("modules")) {
      min = Math.min(min, module.path("rank").asInt());
      max = Math.max(max, module.path("rank").asInt());
    }
    row.put("merged_rank_min", Integer.toString(min == Integer.MAX_VALUE ? 0 : min));
    row.put("merged_rank_max", Integer.toString(max));
    row.put("merged_norm", Double.toString(report.at("/diagnostics/mergedNorm").asDouble()));
    List<String> names = point.combination().names();
    JsonNode retention = report.at("/diagnostics/retention");
    for (int i = 0; i < names.size(); i++) {
      JsonNode value = retention.path(i);
      if (value.isNumber()) {
        row.put(ResultsTable.RETENTION + names.get(i), Double.toString(value.doubleValue()));
      }
    }
    return row;
  }

  /** A point whose merge failed. */
  static Map<String, String> failed(SweepPoint point, String error) {
    Map<String, String> row = start(point, FAILED);
    row.put(ResultsTable.ERROR, oneLine(error));
    return row;
  }

  /** {@code row} with an evaluation's metrics, or marked eval-failed with its error. */
  static Map<String, String> evaluated(Map<String, String> row, Evaluator.Outcome outcome) {
    Map<String, String> evaluated = new LinkedHashMap<>(row);
    evaluated.keySet().removeIf(c -> c.startsWith(ResultsTable.EVAL));
    if (outcome.error().isPresent()) {
      evaluated.put("status", EVAL_FAILED);
      evaluated.put(ResultsTable.ERROR, oneLine(outcome.error().get()));
      return evaluated;
    }
    evaluated.remove(ResultsTable.ERROR);
    outcome
        .metrics()
        .forEach((name, value) -> evaluated.put(ResultsTable.EVAL + name, Double.toString(value)));
    return evaluated;
  }

  /** Whether {@code row} holds an evaluation's metrics. */
  static boolean hasEvaluation(Map<String, String> row) {
    return row.keySet().stream().anyMatch(c -> c.startsWith(ResultsTable.EVAL));
  }

  static String number(double value) {
    return value == Math.rint(value) && Math.abs(value) < 1e15
        ? Long.toString((long) value)
        : Double.toString(value);
  }

  private static String oneLine(String text) {
    String line = text.lines().findFirst().orElse("");
    return Locations.printable(Locations.redact(line));
  }
}
