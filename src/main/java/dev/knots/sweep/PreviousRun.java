package dev.knots.sweep;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.Storage;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputCommit;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What earlier runs of a sweep left that this run may keep: committed points, and the previous
 * table's evaluations of them.
 */
final class PreviousRun {
  private static final int FILE_LIMIT = 64 << 20;

  private final FileStore store;

  /** The previous table's rows, by {@code <combination>/<point>}. */
  private final Map<String, Map<String, String>> rows;

  private PreviousRun(FileStore store, Map<String, Map<String, String>> rows) {
    this.store = store;
    this.rows = rows;
  }

  /** Nothing to keep: {@code --restart}. */
  static PreviousRun none(FileStore store) {
    return new PreviousRun(store, null);
  }

  /** What the sweep into {@code output} left. */
  static PreviousRun of(FileStore store, String output) throws IOException {
    return new PreviousRun(store, rows(store, store.resolve(output, SweepPlan.RESULTS_CSV)));
  }

  /**
   * The row of a point an earlier run committed with the same inputs and options: its report's,
   * with the previous table's evaluation when it has one; empty when the point must be merged.
   */
  Optional<Map<String, String>> row(SweepPoint point) throws IOException {
    MergeRequest request = point.request();
    if (rows == null || !request.format().writes()) {
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
                  store.inputFile(store.resolve(directory, MergeReport.FILE_NAME)), FILE_LIMIT),
              "merge report of " + point.name());
    } catch (FileFormatException | FileNotFoundException e) {
      return Optional.empty();
    }
    if (!sameMerge(request, report)) {
      return Optional.empty();
    }
    Map<String, String> row = Rows.done(point, report);
    Map<String, String> before = rows.get(point.name());
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

  /** Whether {@code report} is of a merge with {@code request}'s inputs and options. */
  private static boolean sameMerge(MergeRequest request, ObjectNode report)
      throws FileFormatException {
    // through JSON text, as the report was, so that numbers compare as the same kind of node
    ObjectNode wanted =
        Json.parseObject(Json.compact(MergeReport.merge(request)), "a merge's options");
    ObjectNode options = report.path("options").deepCopy();
    if (options.isObject()) {
      options.remove("overwrite");
    }
    return wanted.get("inputs").equals(report.path("inputs"))
        && wanted.get("options").equals(options);
  }

  private static Map<String, Map<String, String>> rows(FileStore store, String table)
      throws IOException {
    Map<String, Map<String, String>> rows = new LinkedHashMap<>();
    if (!store.exists(table)) {
      return rows;
    }
    String text =
        new String(Storage.readAll(store.inputFile(table), FILE_LIMIT), StandardCharsets.UTF_8);
    try {
      for (Map<String, String> row : ResultsTable.parseCsv(text)) {
        if (row.containsKey("combination") && row.containsKey("point")) {
          rows.put(row.get("combination") + "/" + row.get("point"), row);
        }
      }
    } catch (IllegalArgumentException e) {
      // a table this run cannot read is written anew; its evaluations run again
      rows.clear();
    }
    return rows;
  }
}
