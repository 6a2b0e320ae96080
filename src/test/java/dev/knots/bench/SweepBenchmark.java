package dev.knots.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.bench.IoFloor.Timing;
import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.Json;
import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The costs of sweeps on the 8B-shaped synthetic set (6 adapters, 32 layers, q/k/v/o, rank 16),
 * each run as a user runs it ({@code scripts/knots-merge sweep} or {@code merge}, one process each,
 * under {@code /usr/bin/time -v}), against the targets:
 *
 * <ul>
 *   <li>extra points are nearly free: 12 points (top-k 10/20/30/50 x scaling 0.3/0.6/1.0,
 *       knots-ties, format none) against 1, each extra point at most 10 % of the first point's cost
 *       (1 point minus the same sweep on a 1-layer set: Spark's start and fixed costs);
 *   <li>written points cost their bytes: the same with format adapter, each extra point at most 2 x
 *       the time to write its bytes once on the same disk;
 *   <li>batches beat separate runs: the 15 pairs of the 6 adapters in one sweep against 15 merges,
 *       at most 0.5 x their summed wall time.
 * </ul>
 *
 * Prints each run's wall time, CPU time and peak RSS, and the three ratios; writes them to
 * WORK/sweep-result.json. The page cache is left warm: every run reads the same set.
 */
final class SweepBenchmark {
  static final String USAGE =
      "Usage: scripts/benchmark-sweep [--work DIR] [--master M] [--only NAME,...]\n"
          + "  runs: one-point, twelve-points, one-point-small, one-point-written,"
          + " twelve-points-written, pairs, separate-pairs";

  private static final Path GNU_TIME = Path.of("/usr/bin/time");
  private static final List<Double> TOP_K = List.of(10.0, 20.0, 30.0, 50.0);
  private static final List<Double> SCALING = List.of(0.3, 0.6, 1.0);

  private SweepBenchmark() {}

  /** One timed process. */
  record Run(String name, double wallSeconds, ProcessUsage usage, int exitCode) {}

  public static void main(String[] args) throws IOException, InterruptedException {
    Path root = Path.of(".");
    Path work = Path.of("target/bench-sweep");
    String master = null;
    List<String> only = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--root" -> root = Path.of(args[++i]);
        case "--work" -> work = Path.of(args[++i]);
        case "--master" -> master = args[++i];
        case "--only" -> only = List.of(args[++i].split(","));
        case "--help", "-h" -> {
          System.out.println(USAGE);
          return;
        }
        default -> {
          System.err.println("benchmark-sweep: unknown argument " + args[i] + "\n" + USAGE);
          System.exit(2);
        }
      }
    }
    Files.createDirectories(work);
    work = work.toAbsolutePath();
    LocalFileStore store = new LocalFileStore();
    Spec large = Spec.llama3_8b();
    Spec small = new Spec(6, 1, 4096, 1024, 16, 32, DType.F32, 1);
    List<String> adapters =
        SyntheticAdapters.ensureSet(
            store, work.resolve("adapters").toString(), large, false, false);
    List<String> oneLayer =
        SyntheticAdapters.ensureSet(
            store, work.resolve("adapters-1-layer").toString(), small, false, false);
    Path launcher = root.resolve("scripts/knots-merge").toAbsolutePath();

    Map<String, Run> runs = new LinkedHashMap<>();
    Timing pointWrite = null;
    List<String> all = List.of("all");
    record Sweep(
        String name, List<String> adapters, Object combinations, boolean many, String format) {}
    List<Sweep> sweeps =
        List.of(
            new Sweep("one-point", adapters, all, false, "none"),
            new Sweep("twelve-points", adapters, all, true, "none"),
            new Sweep("one-point-small", oneLayer, all, false, "none"),
            new Sweep("one-point-written", adapters, all, false, "adapter"),
            new Sweep("twelve-points-written", adapters, all, true, "adapter"),
            new Sweep("pairs", adapters, Map.of("subsets", 2), false, "adapter"));
    for (Sweep sweep : sweeps) {
      if (only != null && !only.contains(sweep.name())) {
        continue;
      }
      Path output = work.resolve("out-" + sweep.name());
      deleteTree(output);
      Path file =
          writeSweepFile(
              work.resolve(sweep.name() + ".yaml"),
              sweep.adapters(),
              sweep.combinations(),
              sweep.many(),
              sweep.format(),
              output);
      List<String> command = new ArrayList<>(List.of(launcher.toString()));
      if (master != null) {
        command.addAll(List.of("--master", master));
      }
      command.addAll(List.of("sweep", "--config", file.toString()));
      runs.put(sweep.name(), timed(sweep.name(), command, work));
      if (sweep.name().equals("one-point-written")) {
        long bytes = sizeOf(output.resolve("points"));
        pointWrite = IoFloor.writeAndSync(work.resolve("write-floor.tmp"), bytes);
      }
      if (!sweep.name().equals("one-point-written")) {
        deleteTree(output);
      }
    }
    if (only == null || only.contains("separate-pairs")) {
      double total = 0;
      double cpu = 0;
      long rss = 0;
      int failed = 0;
      for (int a = 0; a < adapters.size(); a++) {
        for (int b = a + 1; b < adapters.size(); b++) {
          Path output = work.resolve("out-pair");
          deleteTree(output);
          List<String> command = new ArrayList<>(List.of(launcher.toString()));
          if (master != null) {
            command.addAll(List.of("--master", master));
          }
          command.addAll(
              List.of(
                  "merge",
                  "--adapters",
                  adapters.get(a) + "," + adapters.get(b),
                  "--method",
                  "knots-ties",
                  "--top-k",
                  "20",
                  "--scaling",
                  "0.6",
                  "--output",
                  output.toString()));
          Run run = timed("pair " + a + "+" + b, command, work);
          total += run.wallSeconds();
          cpu += run.usage().cpuSeconds() == null ? 0 : run.usage().cpuSeconds();
          rss = Math.max(rss, run.usage().peakRssBytes() == null ? 0 : run.usage().peakRssBytes());
          failed += run.exitCode() == 0 ? 0 : 1;
        }
      }
      deleteTree(work.resolve("out-pair"));
      runs.put(
          "separate-pairs",
          new Run("separate-pairs", total, new ProcessUsage(rss, cpu, 0.0), failed));
    }
    ObjectNode json = report(runs, pointWrite);
    Files.write(work.resolve("sweep-result.json"), Json.pretty(json));
    System.out.print(table(runs, pointWrite));
    System.out.println("  result JSON  " + work.resolve("sweep-result.json"));
  }

  private static Path writeSweepFile(
      Path file,
      List<String> adapters,
      Object combinations,
      boolean many,
      String format,
      Path output)
      throws IOException {
    ObjectNode root = Json.object();
    ObjectNode pool = root.putObject("adapters");
    for (String adapter : adapters) {
      pool.put(Path.of(adapter).getFileName().toString(), adapter);
    }
    ArrayNode combination = root.putArray("combinations");
    if (combinations instanceof Map<?, ?> map) {
      map.forEach((k, v) -> combination.addObject().put(k.toString(), (Integer) v));
    } else {
      ((List<?>) combinations).forEach(c -> combination.add(c.toString()));
    }
    ObjectNode grid = root.putObject("grid");
    grid.put("method", "knots-ties");
    ArrayNode topK = grid.putArray("top-k");
    (many ? TOP_K : List.of(20.0)).forEach(topK::add);
    ArrayNode scaling = grid.putArray("scaling");
    (many ? SCALING : List.of(0.6)).forEach(scaling::add);
    root.put("output", output.toString());
    root.put("format", format);
    // JSON is YAML
    Files.write(file, Json.pretty(root));
    return file;
  }

  private static Run timed(String name, List<String> command, Path work)
      throws IOException, InterruptedException {
    Path timeFile = work.resolve("time.txt");
    Files.deleteIfExists(timeFile);
    List<String> timed = new ArrayList<>();
    if (Files.isExecutable(GNU_TIME)) {
      timed.addAll(List.of(GNU_TIME.toString(), "-v", "-o", timeFile.toString()));
    }
    timed.addAll(command);
    Path log = work.resolve(name.replace(' ', '-').replace('+', '-') + ".log");
    System.err.println("benchmark-sweep: " + name + ": " + String.join(" ", command));
    long start = System.nanoTime();
    Process process =
        new ProcessBuilder(timed).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (!process.waitFor(3600, TimeUnit.SECONDS)) {
      process.descendants().forEach(ProcessHandle::destroyForcibly);
      process.destroyForcibly().waitFor();
    }
    double wall = (System.nanoTime() - start) / 1e9;
    int exit = process.exitValue();
    if (exit != 0) {
      System.err.println("benchmark-sweep: " + name + " failed (exit " + exit + "); see " + log);
    }
    return new Run(name, wall, ProcessUsage.read(timeFile), exit);
  }

  /** The three ratios, each null when a run it needs is missing. */
  record Ratios(Double extraPoint, Double extraWrittenPoint, Double pairs) {}

  static Ratios ratios(Map<String, Run> runs, Timing pointWrite) {
    Double extraPoint = null;
    if (runs.containsKey("one-point")
        && runs.containsKey("twelve-points")
        && runs.containsKey("one-point-small")) {
      double first = wall(runs, "one-point") - wall(runs, "one-point-small");
      extraPoint = (wall(runs, "twelve-points") - wall(runs, "one-point")) / 11 / first;
    }
    Double extraWritten = null;
    if (runs.containsKey("one-point-written")
        && runs.containsKey("twelve-points-written")
        && pointWrite != null) {
      extraWritten =
          (wall(runs, "twelve-points-written") - wall(runs, "one-point-written"))
              / 11
              / pointWrite.seconds();
    }
    Double pairs = null;
    if (runs.containsKey("pairs") && runs.containsKey("separate-pairs")) {
      pairs = wall(runs, "pairs") / wall(runs, "separate-pairs");
    }
    return new Ratios(extraPoint, extraWritten, pairs);
  }

  private static double wall(Map<String, Run> runs, String name) {
    return runs.get(name).wallSeconds();
  }

  static String table(Map<String, Run> runs, Timing pointWrite) {
    StringBuilder t =
        new StringBuilder("Sweep benchmark (8B-shaped set: 6 adapters x 32 layers)\n");
    for (Run run : runs.values()) {
      t.append(
          String.format(
              Locale.ROOT,
              "  %-22s %8.2f s wall  %8s CPU  %10s peak RSS%s%n",
              run.name(),
              run.wallSeconds(),
              run.usage().cpuSeconds() == null
                  ? "n/a"
                  : String.format(Locale.ROOT, "%.1f s", run.usage().cpuSeconds()),
              run.usage().peakRssBytes() == null
                  ? "n/a"
                  : BenchmarkResult.bytes(run.usage().peakRssBytes()),
              run.exitCode() == 0 ? "" : "  FAILED (" + run.exitCode() + ")"));
    }
    if (pointWrite != null) {
      t.append(
          String.format(
              Locale.ROOT,
              "  write floor of one point: %s in %.2f s%n",
              BenchmarkResult.bytes(pointWrite.bytes()),
              pointWrite.seconds()));
    }
    Ratios r = ratios(runs, pointWrite);
    t.append(
        line("extra point (format none) / first point's cost", r.extraPoint(), "target <= 0.10"));
    t.append(
        line("extra written point / writing its bytes once", r.extraWrittenPoint(), "target <= 2"));
    t.append(line("15 pairs in one sweep / 15 separate merges", r.pairs(), "target <= 0.5"));
    return t.toString();
  }

  private static String line(String what, Double value, String target) {
    return String.format(
        Locale.ROOT,
        "  %-48s %s   %s%n",
        what,
        value == null ? "n/a" : String.format(Locale.ROOT, "%.3f", value),
        target);
  }

  private static ObjectNode report(Map<String, Run> runs, Timing pointWrite) {
    ObjectNode json = Json.object();
    ObjectNode runNodes = json.putObject("runs");
    for (Run run : runs.values()) {
      ObjectNode node = runNodes.putObject(run.name());
      node.put("wallSeconds", run.wallSeconds());
      node.put("cpuSeconds", run.usage().cpuSeconds());
      node.put("peakRssBytes", run.usage().peakRssBytes());
      node.put("exitCode", run.exitCode());
    }
    if (pointWrite != null) {
      json.putObject("pointWriteFloor")
          .put("bytes", pointWrite.bytes())
          .put("seconds", pointWrite.seconds());
    }
    Ratios r = ratios(runs, pointWrite);
    json.putObject("ratios")
        .put("extraPointOverFirst", r.extraPoint())
        .put("extraWrittenPointOverWriteFloor", r.extraWrittenPoint())
        .put("pairsSweepOverSeparate", r.pairs());
    return json;
  }

  private static long sizeOf(Path directory) throws IOException {
    try (Stream<Path> files = Files.walk(directory)) {
      long total = 0;
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        total += Files.size(file);
      }
      return total;
    }
  }

  private static void deleteTree(Path directory) throws IOException {
    new LocalFileStore().deleteRecursively(directory.toString());
  }
}
