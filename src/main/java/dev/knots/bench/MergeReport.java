package dev.knots.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the benchmark takes from the job's {@code merge_report.json}. Every value is null when the
 * report lacks it, so a partial report still gives a partial table.
 *
 * @param sparkStartSeconds {@code timings.sparkStartSeconds}
 * @param totalSeconds {@code timings.totalSeconds}: JVM start of main to the commit
 * @param bytesRead {@code bytes.read}
 * @param bytesWritten {@code bytes.written}
 * @param driverPeakHeapBytes {@code memory.driverPeakHeapBytes}
 */
record MergeReport(
    Double sparkStartSeconds,
    Double totalSeconds,
    Long bytesRead,
    Long bytesWritten,
    Long driverPeakHeapBytes) {

  static final String FILE = "merge_report.json";

  /** An empty report, for a merge that wrote none. */
  static MergeReport none() {
    return new MergeReport(null, null, null, null, null);
  }

  static MergeReport read(Path file) throws IOException {
    ObjectNode json = Json.parseObject(Files.readAllBytes(file), "merge report " + file);
    return new MergeReport(
        number(json.path("timings").path("sparkStartSeconds")),
        number(json.path("timings").path("totalSeconds")),
        count(json.path("bytes").path("read")),
        count(json.path("bytes").path("written")),
        count(json.path("memory").path("driverPeakHeapBytes")));
  }

  private static Double number(JsonNode node) {
    return node.isNumber() ? node.doubleValue() : null;
  }

  private static Long count(JsonNode node) {
    return node.isIntegralNumber() ? node.longValue() : null;
  }
}
