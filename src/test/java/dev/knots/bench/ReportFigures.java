package dev.knots.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.Json;
import dev.knots.job.MergeReport;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the benchmark takes from the job's {@code merge_report.json}. Every value is null when the
 * report lacks it, so a partial report still gives a partial table.
 *
 * @param sparkStartSeconds {@code timings.sparkStartSeconds}
 * @param totalSeconds {@code timings.totalSeconds}: JVM start of main to the commit
 * @param bytesRead {@code bytes.read}
 * @param bytesWritten {@code bytes.written}
 * @param driverPeakHeapBytes {@code memory.driverPeakHeapBytes}
 * @param phases the job's phases in {@link #PHASES} order, by name without "Seconds", with the
 *     seconds {@code timings} gives them (the phases it lacks are left out)
 */
record ReportFigures(
    Double sparkStartSeconds,
    Double totalSeconds,
    Long bytesRead,
    Long bytesWritten,
    Long driverPeakHeapBytes,
    Map<String, Double> phases) {

  static final String FILE = MergeReport.FILE_NAME;

  /** The job's phases besides Spark's start, in the order they run. */
  static final List<String> PHASES = List.of("beforeSpark", "align", "statistics", "merge");

  public ReportFigures {
    phases = Collections.unmodifiableMap(new LinkedHashMap<>(phases));
  }

  /** An empty report, for a merge that wrote none. */
  static ReportFigures none() {
    return new ReportFigures(null, null, null, null, null, Map.of());
  }

  static ReportFigures read(Path file) throws IOException {
    ObjectNode json = Json.parseObject(Files.readAllBytes(file), "merge report " + file);
    return new ReportFigures(
        number(json.path("timings").path("sparkStartSeconds")),
        number(json.path("timings").path("totalSeconds")),
        count(json.path("bytes").path("read")),
        count(json.path("bytes").path("written")),
        count(json.path("memory").path("driverPeakHeapBytes")),
        phases(json.path("timings")));
  }

  private static Map<String, Double> phases(JsonNode timings) {
    Map<String, Double> phases = new LinkedHashMap<>();
    for (String phase : PHASES) {
      Double seconds = number(timings.path(phase + "Seconds"));
      if (seconds != null) {
        phases.put(phase, seconds);
      }
    }
    return phases;
  }

  private static Double number(JsonNode node) {
    return node.isNumber() ? node.doubleValue() : null;
  }

  private static Long count(JsonNode node) {
    return node.isIntegralNumber() ? node.longValue() : null;
  }
}
