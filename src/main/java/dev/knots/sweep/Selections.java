package dev.knots.sweep;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * What a sweep chose: per combination the point whose selection metric is best, and the best single
 * setting across combinations (the point with the best mean metric over the combinations where it
 * is done).
 */
final class Selections {
  private final Optional<Selection> selection;
  private final ResultsTable table;

  Selections(Optional<Selection> selection, ResultsTable table) {
    this.selection = selection;
    this.table = table;
  }

  /** Per combination, in table order, the row of its best point; empty without a selection. */
  Map<String, Map<String, String>> bestPerCombination() {
    Map<String, Map<String, String>> best = new LinkedHashMap<>();
    if (selection.isEmpty()) {
      return best;
    }
    for (Map<String, String> row : table.rows()) {
      OptionalDouble value = metric(row);
      if (value.isEmpty()) {
        continue;
      }
      Map<String, String> current = best.get(row.get("combination"));
      if (current == null || better(value.getAsDouble(), metric(current).getAsDouble())) {
        best.put(row.get("combination"), row);
      }
    }
    return best;
  }

  /** The point id (output directory name) with the best mean metric over combinations. */
  Optional<Map.Entry<String, Double>> bestSetting() {
    if (selection.isEmpty()) {
      return Optional.empty();
    }
    Map<String, List<Double>> byPoint = new LinkedHashMap<>();
    for (Map<String, String> row : table.rows()) {
      OptionalDouble value = metric(row);
      if (value.isPresent()) {
        byPoint.computeIfAbsent(setting(row), k -> new ArrayList<>()).add(value.getAsDouble());
      }
    }
    Map.Entry<String, Double> best = null;
    for (Map.Entry<String, List<Double>> point : byPoint.entrySet()) {
      double mean =
          point.getValue().stream().mapToDouble(Double::doubleValue).average().orElseThrow();
      if (best == null || better(mean, best.getValue())) {
        best = Map.entry(point.getKey(), mean);
      }
    }
    return Optional.ofNullable(best);
  }

  /** {@code best.json}: the selection and, per combination, the chosen point's row. */
  byte[] bestJson() {
    ObjectNode root = Json.object();
    root.put("metric", selection.orElseThrow().metric());
    root.put("mode", selection.orElseThrow().maximize() ? "max" : "min");
    ObjectNode best = root.putObject("best");
    bestPerCombination()
        .forEach(
            (combination, row) -> {
              ObjectNode node = best.putObject(combination);
              table.columns().stream()
                  .filter(row::containsKey)
                  .forEach(column -> node.put(column, row.get(column)));
            });
    bestSetting()
        .ifPresent(
            s ->
                root.putObject("bestSetting")
                    .put("point", s.getKey())
                    .put("meanMetric", s.getValue()));
    return Json.pretty(root);
  }

  /** The closing table on the terminal. */
  String summary() {
    StringBuilder text = new StringBuilder();
    long done = table.rows().stream().filter(r -> Rows.DONE.equals(r.get("status"))).count();
    text.append(
        String.format(Locale.ROOT, "Sweep: %d of %d points done.%n", done, table.rows().size()));
    if (selection.isEmpty()) {
      return text.toString();
    }
    String metric = selection.get().metric();
    text.append(
        String.format(
            Locale.ROOT,
            "%-40s %-40s %s (%s)%n",
            "combination",
            "best point",
            metric,
            selection.get().maximize() ? "max" : "min"));
    bestPerCombination()
        .forEach(
            (combination, row) ->
                text.append(
                    String.format(
                        Locale.ROOT,
                        "%-40s %-40s %s%n",
                        combination,
                        setting(row),
                        row.get(metric))));
    bestSetting()
        .ifPresent(
            s ->
                text.append(
                    String.format(
                        Locale.ROOT,
                        "Best single setting across combinations: %s (mean %s %.6g)%n",
                        s.getKey(),
                        metric,
                        s.getValue())));
    return text.toString();
  }

  private OptionalDouble metric(Map<String, String> row) {
    String value = row.get(selection.orElseThrow().metric());
    if (value == null || value.isEmpty() || Rows.FAILED.equals(row.get("status"))) {
      return OptionalDouble.empty();
    }
    try {
      double number = Double.parseDouble(value);
      return Double.isNaN(number) ? OptionalDouble.empty() : OptionalDouble.of(number);
    } catch (NumberFormatException e) {
      return OptionalDouble.empty();
    }
  }

  private boolean better(double value, double than) {
    return selection.orElseThrow().maximize() ? value > than : value < than;
  }

  private static String setting(Map<String, String> row) {
    return row.get("point");
  }
}
