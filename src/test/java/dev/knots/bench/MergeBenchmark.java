package dev.knots.bench;

import dev.knots.bench.IoFloor.Timing;
import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.Json;
import dev.knots.io.LocalFileStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Times one merge of a synthetic Llama-3-8B-shaped adapter set against its floor on this machine:
 * Spark's start-up plus the time to read every input byte once and to write and fsync the output.
 * Run through {@code scripts/benchmark}, which documents the options ({@link #USAGE}).
 *
 * <p>Order: generate the set (once; reused while its spec matches), drop the page cache, read
 * floor, drop the page cache, the merge under {@code /usr/bin/time -v}, then the write floor for
 * the output's size. Prints a table and writes {@code result.json} into the work directory.
 */
public final class MergeBenchmark {

  static final String USAGE =
      "Usage: scripts/benchmark [options]; the options are described at the top of that script.";

  private static final Path GNU_TIME = Path.of("/usr/bin/time");

  /** The exit code reported for a merge stopped by {@code --timeout}, as timeout(1) does. */
  static final int TIMED_OUT = 124;

  private MergeBenchmark() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("benchmark: " + e.getMessage() + "\n" + USAGE);
      System.exit(2);
      return;
    }
    if (o == null) {
      System.out.println(USAGE);
      return;
    }
    BenchmarkResult result = run(o);
    Path json = o.work.resolve("result.json");
    Files.write(json, Json.pretty(result.toJson()));
    System.out.print(result.table());
    System.out.println("  result JSON          " + json);
    if (result.exitCode() != 0 || !result.committed()) {
      System.err.println(
          (result.exitCode() == TIMED_OUT
                  ? "benchmark: the merge did not end within "
                      + o.timeoutSeconds
                      + " s (--timeout) and was stopped; its output and its JVM's thread stacks"
                      + " are in "
                  : "benchmark: the merge failed (exit "
                      + result.exitCode()
                      + "); its output is in ")
              + o.work.resolve("merge.log")
              + ". Last lines:");
      try (Stream<String> lines = Files.lines(o.work.resolve("merge.log"))) {
        List<String> all = lines.toList();
        all.subList(Math.max(0, all.size() - 30), all.size()).forEach(System.err::println);
      }
      System.exit(1);
    }
  }

  static BenchmarkResult run(Options o) throws IOException, InterruptedException {
    LocalFileStore store = new LocalFileStore();
    Path set = o.work.resolve("adapters");
    boolean withBase = o.format != null && !o.format.equals("adapter");
    if (o.skipGenerate && !SyntheticAdapters.isComplete(store, set.toString(), o.spec, withBase)) {
      throw new IllegalStateException(
          "Cannot use --skip-generate: "
              + set
              + " holds no complete set with this spec."
              + " Run once without --skip-generate.");
    }
    List<String> adapters =
        SyntheticAdapters.ensureSet(store, set.toString(), o.spec, withBase, false);
    List<Path> inputs = new ArrayList<>();
    for (String adapter : adapters) {
      inputs.addAll(files(Path.of(adapter)));
    }
    if (withBase) {
      inputs.addAll(files(set.resolve(SyntheticAdapters.BASE_DIR)));
    }

    String pageCache = o.dropCaches ? IoFloor.dropPageCache() : "--no-drop-caches";
    log("read floor: %d files, %s", inputs.size(), BenchmarkResult.bytes(sizeOf(inputs)));
    Timing read = IoFloor.readAll(inputs);
    if (pageCache == null) {
      pageCache = IoFloor.dropPageCache();
    }

    Path output = o.work.resolve("merged");
    store.deleteRecursively(output.toString());
    List<String> command = command(o, adapters, output);
    Path timeFile = o.work.resolve("time.txt");
    Files.deleteIfExists(timeFile);
    List<String> timed = new ArrayList<>();
    if (Files.isExecutable(GNU_TIME)) {
      timed.addAll(List.of(GNU_TIME.toString(), "-v", "-o", timeFile.toString()));
    }
    timed.addAll(command);
    Path mergeLog = o.work.resolve("merge.log");
    log("merge: %s (log: %s)", String.join(" ", command), mergeLog);
    long start = System.nanoTime();
    Process merge =
        new ProcessBuilder(timed)
            .redirectErrorStream(true)
            .redirectOutput(mergeLog.toFile())
            .start();
    int exit =
        merge.waitFor(o.timeoutSeconds, TimeUnit.SECONDS)
            ? merge.exitValue()
            : stop(merge, mergeLog, o.timeoutSeconds);
    double wall = (System.nanoTime() - start) / 1e9;

    Path reportFile = output.resolve(ReportFigures.FILE);
    ReportFigures report =
        Files.exists(reportFile) ? ReportFigures.read(reportFile) : ReportFigures.none();
    long onDisk = Files.isDirectory(output) ? sizeOf(files(output)) : 0;
    log("write floor: %s", BenchmarkResult.bytes(onDisk));
    Timing write = IoFloor.writeAndSync(o.work.resolve("write-floor.tmp"), onDisk);
    return new BenchmarkResult(
        o.spec,
        o.method,
        o.master,
        pageCache,
        command,
        exit,
        wall,
        read,
        write,
        report,
        Files.exists(output.resolve("_SUCCESS")),
        ProcessUsage.read(timeFile),
        Runtime.getRuntime().availableProcessors());
  }

  /**
   * Stops a merge that outran {@code --timeout}: first the thread stacks of every JVM under it go
   * to the end of {@code log} (jcmd Thread.print), which is what shows where it hung, then the
   * whole process tree is killed.
   */
  private static int stop(Process merge, Path log, long timeoutSeconds)
      throws IOException, InterruptedException {
    log(
        "the merge did not end within %d s; stopping it (its JVM's thread stacks go to %s)",
        timeoutSeconds, log);
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    List<ProcessHandle> tree = merge.descendants().toList();
    for (ProcessHandle process : tree) {
      boolean jvm = process.info().command().map(c -> c.endsWith("/java")).orElse(false);
      if (jvm && Files.isExecutable(jcmd)) {
        Process dump =
            new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), "Thread.print")
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
        if (!dump.waitFor(60, TimeUnit.SECONDS)) {
          dump.destroyForcibly();
        }
      }
    }
    tree.forEach(ProcessHandle::destroyForcibly);
    merge.destroyForcibly();
    merge.waitFor();
    return TIMED_OUT;
  }

  static List<String> command(Options o, List<String> adapters, Path output) {
    List<String> c = new ArrayList<>(List.of(o.launcher.toString()));
    if (o.master != null) {
      c.addAll(List.of("--master", o.master));
    }
    c.addAll(
        List.of(
            "merge",
            "--adapters",
            String.join(",", adapters),
            "--method",
            o.method,
            "--top-k",
            o.topK,
            "--scaling",
            o.scaling,
            "--output",
            output.toString(),
            "--overwrite"));
    if (o.format != null) {
      c.addAll(List.of("--format", o.format));
      if (!o.format.equals("adapter")) {
        c.addAll(
            List.of(
                "--base",
                o.work.resolve("adapters").resolve(SyntheticAdapters.BASE_DIR).toString()));
      }
    }
    return c;
  }

  private static List<Path> files(Path directory) throws IOException {
    try (Stream<Path> all = Files.walk(directory)) {
      return all.filter(Files::isRegularFile).sorted().toList();
    }
  }

  private static long sizeOf(List<Path> files) throws IOException {
    long total = 0;
    for (Path file : files) {
      total += Files.size(file);
    }
    return total;
  }

  private static void log(String format, Object... args) {
    System.err.println("benchmark: " + String.format(Locale.ROOT, format, args));
  }

  /** Parsed command line. */
  static final class Options {
    Path root = Path.of(".");
    Path work;
    Path launcher;
    Spec spec;
    boolean skipGenerate;
    boolean dropCaches = true;
    String master;
    String method = "knots-ties";
    String topK = "20";
    String scaling = "0.6";
    String format;
    long timeoutSeconds = 1800;

    /** The options, or null for --help. */
    static Options parse(String... args) {
      Options o = new Options();
      List<String> generator = new ArrayList<>(List.of("--out", "unused"));
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "-h", "--help" -> {
            return null;
          }
          case "--skip-generate" -> o.skipGenerate = true;
          case "--no-drop-caches" -> o.dropCaches = false;
          default -> {
            if (i + 1 >= args.length) {
              throw new IllegalArgumentException("unknown option or missing value: " + a);
            }
            String v = args[++i];
            switch (a) {
              case "--root" -> o.root = Path.of(v);
              case "--work" -> o.work = Path.of(v);
              case "--launcher" -> o.launcher = Path.of(v);
              case "--master" -> o.master = v;
              case "--method" -> o.method = v;
              case "--top-k" -> o.topK = v;
              case "--scaling" -> o.scaling = v;
              case "--format" -> o.format = format(v);
              case "--timeout" -> o.timeoutSeconds = positiveSeconds(v);
              case "--adapters", "--layers", "--hidden", "--kv", "--rank", "--dtype", "--seed" ->
                  generator.addAll(List.of(a, v));
              default -> throw new IllegalArgumentException("unknown option " + a);
            }
          }
        }
      }
      o.spec = SyntheticAdapters.Options.parse(generator.toArray(String[]::new)).spec;
      o.work =
          (o.work != null ? o.work : o.root.resolve("target/bench")).toAbsolutePath().normalize();
      o.launcher =
          o.launcher != null
              ? o.launcher
              : o.root.resolve("scripts/knots-merge").toAbsolutePath().normalize();
      return o;
    }

    private static long positiveSeconds(String v) {
      try {
        long seconds = Long.parseLong(v);
        if (seconds > 0) {
          return seconds;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(
          "--timeout must be a positive number of seconds, not " + v);
    }

    private static String format(String v) {
      if (!List.of("adapter", "model", "both").contains(v)) {
        throw new IllegalArgumentException("--format must be adapter, model or both, not " + v);
      }
      return v;
    }
  }
}
