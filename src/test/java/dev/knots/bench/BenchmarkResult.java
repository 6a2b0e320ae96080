package dev.knots.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.bench.IoFloor.Timing;
import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.Json;
import java.util.List;
import java.util.Locale;

/**
 * One benchmark run: the merge's wall time against its floor, {@code Spark start + read floor +
 * write floor}, which no implementation can beat on this machine.
 *
 * @param spec the synthetic adapter set
 * @param method the merge method
 * @param master the Spark master passed to the launcher, or null for its default
 * @param pageCache null if the page cache was dropped before the read floor and the merge, else why
 *     not
 * @param command the timed command line
 * @param exitCode the merge's exit status
 * @param wallSeconds the merge's wall time, measured around the launcher process
 * @param read the read floor: every input byte once
 * @param write the write floor: as many bytes as the merge's output holds on disk, written and
 *     fsynced
 * @param report what the job reported
 * @param committed whether the output has {@code _SUCCESS}
 * @param usage what {@code /usr/bin/time -v} reports of the merge process
 * @param cores the processors this machine offers the merge
 */
record BenchmarkResult(
    Spec spec,
    String method,
    String master,
    String pageCache,
    List<String> command,
    int exitCode,
    double wallSeconds,
    Timing read,
    Timing write,
    ReportFigures report,
    boolean committed,
    ProcessUsage usage,
    int cores) {

  /** {@code read + write} floor seconds. */
  double ioFloorSeconds() {
    return read.seconds() + write.seconds();
  }

  /**
   * CPU time over wall time: how many cores the merge kept busy on average; near {@link #cores},
   * the run was bound by the processors, and only less work (not overlap) makes it shorter. Null
   * without CPU time.
   */
  Double averageCoresBusy() {
    Double cpu = usage.cpuSeconds();
    return cpu == null ? null : cpu / wallSeconds;
  }

  /** {@code wall / (Spark start + I/O floor)}, or null without a Spark start time. */
  Double ratio() {
    Double spark = report.sparkStartSeconds();
    return spark == null ? null : wallSeconds / (spark + ioFloorSeconds());
  }

  String table() {
    Double ratio = ratio();
    Double spark = report.sparkStartSeconds();
    StringBuilder t = new StringBuilder();
    t.append(
        String.format(
            Locale.ROOT,
            "KnOTS merge benchmark: %s, %d adapters x %d layers (hidden %d, kv %d, rank %d, %s),"
                + " master %s\n",
            method,
            spec.adapters(),
            spec.layers(),
            spec.hidden(),
            spec.kv(),
            spec.rank(),
            spec.dtype(),
            master == null ? "(launcher default)" : master));
    row(
        t,
        "page cache",
        pageCache == null
            ? "dropped before the read floor and before the merge"
            : "NOT dropped: " + pageCache,
        "");
    row(t, "exit status", exitCode + (committed ? ", _SUCCESS written" : ", no _SUCCESS"), "");
    row(t, "wall time", seconds(wallSeconds), "launcher start to exit");
    row(
        t,
        "CPU time",
        seconds(usage.cpuSeconds()),
        usage.cpuSeconds() == null
            ? "/usr/bin/time -v"
            : String.format(
                Locale.ROOT,
                "user %.1f s + system %.1f s, /usr/bin/time -v: %.2f of %d cores busy on average",
                usage.userSeconds(),
                usage.systemSeconds(),
                averageCoresBusy(),
                cores));
    row(t, "Spark start", seconds(spark), "merge_report.json");
    row(t, "job total", seconds(report.totalSeconds()), "merge_report.json: main to commit");
    report.phases().forEach((phase, s) -> row(t, "  " + phase, seconds(s), "merge_report.json"));
    row(t, "I/O floor, read", seconds(read.seconds()), bytes(read.bytes()) + rate(read));
    row(
        t,
        "I/O floor, write",
        seconds(write.seconds()),
        bytes(write.bytes()) + rate(write) + ", incl. fsync");
    row(t, "I/O floor, total", seconds(ioFloorSeconds()), "");
    row(
        t,
        "floor",
        seconds(spark == null ? null : spark + ioFloorSeconds()),
        "Spark start + I/O floor");
    row(
        t,
        "ratio wall / floor",
        ratio == null ? "n/a" : String.format(Locale.ROOT, "%.2f", ratio),
        "how far from what no implementation beats on this machine");
    row(t, "bytes read", bytes(report.bytesRead()), "merge_report.json");
    row(t, "bytes written", bytes(report.bytesWritten()), "merge_report.json");
    row(t, "peak RSS", bytes(usage.peakRssBytes()), "/usr/bin/time -v");
    row(t, "driver peak heap", bytes(report.driverPeakHeapBytes()), "merge_report.json");
    return t.toString();
  }

  ObjectNode toJson() {
    ObjectNode json = Json.object();
    json.set("spec", spec.toJson());
    json.put("method", method);
    json.put("master", master);
    json.put("pageCacheDropped", pageCache == null);
    json.put("pageCacheNote", pageCache);
    command.forEach(json.putArray("command")::add);
    json.put("exitCode", exitCode);
    json.put("committed", committed);
    json.put("wallSeconds", wallSeconds);
    json.put("sparkStartSeconds", report.sparkStartSeconds());
    json.put("jobTotalSeconds", report.totalSeconds());
    ObjectNode phases = json.putObject("phaseSeconds");
    report.phases().forEach(phases::put);
    ObjectNode floor = json.putObject("ioFloor");
    floor.put("readSeconds", read.seconds()).put("readBytes", read.bytes());
    floor.put("writeSeconds", write.seconds()).put("writeBytes", write.bytes());
    floor.put("totalSeconds", ioFloorSeconds());
    json.put("ratio", ratio());
    json.put("bytesRead", report.bytesRead());
    json.put("bytesWritten", report.bytesWritten());
    json.put("cpuUserSeconds", usage.userSeconds());
    json.put("cpuSystemSeconds", usage.systemSeconds());
    json.put("cores", cores);
    json.put("averageCoresBusy", averageCoresBusy());
    json.put("peakRssBytes", usage.peakRssBytes());
    json.put("driverPeakHeapBytes", report.driverPeakHeapBytes());
    return json;
  }

  private static void row(StringBuilder t, String name, String value, String note) {
    t.append(String.format(Locale.ROOT, "  %-20s %12s   %s", name, value, note).stripTrailing())
        .append('\n');
  }

  private static String seconds(Double s) {
    return s == null ? "n/a" : String.format(Locale.ROOT, "%.2f s", s);
  }

  static String bytes(Long b) {
    if (b == null) {
      return "n/a";
    }
    return b >= 1L << 30
        ? String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30))
        : String.format(Locale.ROOT, "%.1f MiB", b / (double) (1L << 20));
  }

  private static String rate(Timing t) {
    return t.seconds() > 0
        ? String.format(Locale.ROOT, " at %.0f MiB/s", t.bytes() / (double) (1 << 20) / t.seconds())
        : "";
  }
}
