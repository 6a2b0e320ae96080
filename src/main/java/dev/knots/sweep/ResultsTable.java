package dev.knots.sweep;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A sweep's results: one row per (combination, point), written as {@code results.csv} (RFC 4180,
 * header first). The fixed columns come first, then {@code retention.<name>} per input of the pool,
 * {@code eval.<metric>} per metric any evaluation printed, and {@code error} last.
 */
public final class ResultsTable {
  /** The columns every table starts with, in order. */
  public static final List<String> FIXED =
      List.of(
          "combination",
          "point",
          "adapters",
          "method",
          "top_k",
          "scaling",
          "dare_drop",
          "seed",
          "scope",
          "concat",
          "status",
          "output",
          "seconds",
          "merged_rank_min",
          "merged_rank_max",
          "merged_norm");

  public static final String RETENTION = "retention.";
  public static final String EVAL = "eval.";
  public static final String ERROR = "error";

  private final List<String> poolNames;
  private final List<Map<String, String>> rows;

  /**
   * @param poolNames the inputs of the pool, in order: one retention column each
   * @param rows column name to value; a column a row lacks is empty
   */
  public ResultsTable(List<String> poolNames, List<Map<String, String>> rows) {
    this.poolNames = List.copyOf(poolNames);
    this.rows = rows.stream().map(r -> Map.copyOf(new LinkedHashMap<>(r))).toList();
  }

  /** Whether {@code column} holds numbers (or is empty). */
  public static boolean numeric(String column) {
    return NUMERIC.contains(column) || column.startsWith(RETENTION) || column.startsWith(EVAL);
  }

  private static final Set<String> NUMERIC =
      Set.of(
          "top_k",
          "scaling",
          "dare_drop",
          "seed",
          "seconds",
          "merged_rank_min",
          "merged_rank_max",
          "merged_norm");

  public List<Map<String, String>> rows() {
    return rows;
  }

  /** Every column, in order. */
  public List<String> columns() {
    List<String> columns = new ArrayList<>(FIXED);
    poolNames.forEach(name -> columns.add(RETENTION + name));
    Set<String> metrics = new LinkedHashSet<>();
    for (Map<String, String> row : rows) {
      row.keySet().stream().filter(c -> c.startsWith(EVAL)).sorted().forEach(metrics::add);
    }
    columns.addAll(metrics);
    columns.add(ERROR);
    return columns;
  }

  public byte[] toCsv() {
    List<String> columns = columns();
    StringBuilder csv = new StringBuilder();
    line(csv, columns);
    for (Map<String, String> row : rows) {
      line(csv, columns.stream().map(c -> row.getOrDefault(c, "")).toList());
    }
    return csv.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void line(StringBuilder csv, List<String> fields) {
    for (int i = 0; i < fields.size(); i++) {
      if (i > 0) {
        csv.append(',');
      }
      String field = fields.get(i);
      if (field.indexOf(',') >= 0
          || field.indexOf('"') >= 0
          || field.indexOf('\n') >= 0
          || field.indexOf('\r') >= 0) {
        csv.append('"').append(field.replace("\"", "\"\"")).append('"');
      } else {
        csv.append(field);
      }
    }
    csv.append("\r\n");
  }

  /**
   * The rows of a {@code results.csv} this class wrote, as column name to value (empty values left
   * out).
   *
   * @throws IllegalArgumentException if the text is no such table
   */
  public static List<Map<String, String>> parseCsv(String text) {
    List<List<String>> records = records(text);
    if (records.isEmpty()) {
      return List.of();
    }
    List<String> header = records.get(0);
    List<Map<String, String>> rows = new ArrayList<>();
    for (List<String> record : records.subList(1, records.size())) {
      if (record.size() != header.size()) {
        throw new IllegalArgumentException(
            "a row has " + record.size() + " fields where the header has " + header.size());
      }
      Map<String, String> row = new LinkedHashMap<>();
      for (int i = 0; i < header.size(); i++) {
        if (!record.get(i).isEmpty()) {
          row.put(header.get(i), record.get(i));
        }
      }
      rows.add(row);
    }
    return rows;
  }

  private static List<List<String>> records(String text) {
    List<List<String>> records = new ArrayList<>();
    List<String> record = new ArrayList<>();
    StringBuilder field = new StringBuilder();
    boolean quoted = false;
    boolean any = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
          field.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          field.append(c);
        }
        continue;
      }
      any = true;
      if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        record.add(field.toString());
        field.setLength(0);
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
          i++;
        }
        record.add(field.toString());
        field.setLength(0);
        records.add(record);
        record = new ArrayList<>();
        any = false;
      } else {
        field.append(c);
      }
    }
    if (quoted) {
      throw new IllegalArgumentException("a quoted field is not closed");
    }
    if (any || field.length() > 0) {
      record.add(field.toString());
      records.add(record);
    }
    return records;
  }
}
