package dev.knots.cli;

import dev.knots.io.FileFormatException;
import dev.knots.io.Locations;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.RunOptions;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.MergePlan;
import dev.knots.plan.Planner;
import dev.knots.spark.SparkMergeJob;
import java.io.IOException;
import java.io.PrintStream;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point: {@code spark-submit --class dev.knots.cli.Main knots-merge-all.jar merge ...} or
 * {@code scripts/knots-merge merge ...}. Exit codes: 0 done, 1 the merge failed, 2 bad usage.
 */
public final class Main {
  private static final long PROCESS_START = System.nanoTime();

  /** The master when none is given (no spark-submit, no {@code spark.master} property). */
  static final String DEFAULT_MASTER = "local[*]";

  private Main() {}

  public static void main(String[] args) {
    // Before any thread: otherwise class loading and a JNI library's loading can deadlock.
    ClassLoadingNatives.initialize();
    // Tasks in this JVM: Spark starts while the driver parses and plans, then gets a head start.
    boolean local = HeadStart.tasksRunHere(System.getProperty("spark.master"));
    SparkStart spark =
        local && SparkStart.needed(args)
            ? SparkStart.inBackground(Main::sparkContext)
            : SparkStart.onDemand(Main::sparkContext);
    int code = run(args, System.out, System.err, spark, local);
    if (code != 0) {
      System.exit(code);
    }
  }

  /** Runs the command line against {@code spark} (started only when a merge needs it). */
  static int run(String[] args, PrintStream out, PrintStream err, Supplier<SparkContext> spark) {
    return run(args, out, err, SparkStart.onDemand(spark), false);
  }

  /**
   * As {@link #run(String[], PrintStream, PrintStream, Supplier)}, with Spark started as {@code
   * spark} says; with {@code headStart}, the driver gets a head start on the merge while Spark
   * starts (see {@link HeadStart}). A command that ends without the Spark context abandons its
   * start.
   */
  static int run(
      String[] args, PrintStream out, PrintStream err, SparkStart spark, boolean headStart) {
    try {
      return runCommand(args, out, err, spark, headStart);
    } finally {
      spark.abandonIfUnused();
    }
  }

  private static int runCommand(
      String[] args, PrintStream out, PrintStream err, SparkStart spark, boolean headStart) {
    Optional<MergeCommand> parsed = Cli.parse(args, out, err);
    if (parsed.isEmpty()) {
      return helpRequested(args) ? 0 : 2;
    }
    MergeCommand command = parsed.get();
    MergeRequest request;
    RunOptions options;
    try {
      request = command.request();
      options = command.runOptions();
    } catch (InvalidOptionException e) {
      err.println("Error: " + e.getMessage());
      err.println("Try " + Cli.PROGRAM + " --help");
      return 2;
    }
    try {
      if (command.dryRun) {
        out.print(dryRun(request, options));
        return 0;
      }
      RoutingFileStore headers = headerStore();
      // Its synthetic merges need only the request: they run while the headers are read.
      Optional<HeadStart> head =
          headStart ? Optional.of(HeadStart.start(request, headers)) : Optional.empty();
      try {
        Optional<Planned> planned = planBeforeSpark(request, options, headers);
        head.ifPresent(h -> h.plan(planned.map(Planned::plan)));
        SparkContext context;
        try {
          context = spark.context();
        } finally {
          // the synthetic merges stop now; aligning real layers goes on until the tasks start
          head.ifPresent(HeadStart::stopMerging);
        }
        head.ifPresent(Main::logHeadStart);
        MergeReport report =
            SparkMergeJob.run(
                context,
                request,
                options,
                planned.map(Planned::inputs),
                head.flatMap(HeadStart::early),
                spark.seconds(),
                PROCESS_START);
        out.println(report.summary());
        return 0;
      } finally {
        if (head.isPresent()) {
          head.get().close();
        }
      }
    } catch (Exception e) {
      // Spark's task failures arrive as checked SparkExceptions that Java does not declare.
      err.println("Error: " + Locations.redact(SparkMergeJob.reason(e)));
      err.println(
          "Nothing was published at " + Locations.redact(request.output()) + " (no _SUCCESS).");
      return 1;
    }
  }

  /**
   * Plans from headers before waiting for Spark, so that a module no path can take (an MLlib limit,
   * a budget) fails in the first second, naming the layer, the module and the option to change,
   * instead of after Spark's start-up. Returns the inputs it opened, so the job does not read their
   * headers again, and the plan, which the head start begins aligning; empty when only the Spark
   * context's own configuration reaches them, and the job opens them with it.
   *
   * @throws dev.knots.plan.PlanningException if the plan cannot be made
   * @throws FileFormatException if an input was read and cannot be merged
   */
  private static Optional<Planned> planBeforeSpark(
      MergeRequest request, RunOptions options, RoutingFileStore headers)
      throws FileFormatException {
    MergeInputs inputs;
    try {
      inputs = request.openInputs(headers, options.unsupported());
    } catch (FileFormatException e) {
      throw e; // what the files hold is wrong under any configuration
    } catch (IOException e) {
      // The job reports it, with the full configuration, if it still fails then.
      return Optional.empty();
    }
    return Optional.of(new Planned(inputs, plan(request, options, inputs)));
  }

  /** The inputs opened before Spark started, and the plan made from them. */
  private record Planned(MergeInputs inputs, MergePlan plan) {}

  private static RoutingFileStore headerStore() {
    return RoutingFileStore.forSparkProperties(sparkProperties());
  }

  private static MergePlan plan(MergeRequest request, RunOptions options, MergeInputs inputs) {
    return Planner.plan(
        inputs, request.method(), request.concat(), options.paths().resolve(sparkProperties()));
  }

  /** The plan, from headers only; no Spark is started. */
  static String dryRun(MergeRequest request, RunOptions options) throws IOException {
    RoutingFileStore store = headerStore();
    MergeInputs inputs = request.openInputs(store, options.unsupported());
    MergePlan plan = plan(request, options, inputs);
    StringBuilder text = new StringBuilder(plan.describe());
    inputs
        .plainTensors()
        .forEach(
            t ->
                text.append(
                    String.format(
                        Locale.ROOT,
                        "  %-40s merged entry-wise with %s, its own top-K and sign (not a 2-D"
                            + " weight)%n",
                        t.name(),
                        MergeMethods.plainCounterpart(request.method()).name())));
    inputs.warnings().forEach(w -> text.append("warning: left out ").append(w).append('\n'));
    if (store.exists(request.output())) {
      text.append(
          options.overwrite()
              ? "Output "
                  + Locations.redact(request.output())
                  + " exists and would be replaced (--overwrite).\n"
              : "Output "
                  + Locations.redact(request.output())
                  + " exists: the merge would be refused without --overwrite.\n");
    }
    text.append("Dry run: nothing was read beyond headers and nothing was written.\n");
    return text.toString();
  }

  /** Spark's properties as the context will see them, its default master included. */
  private static Map<String, String> sparkProperties() {
    Map<String, String> properties = new HashMap<>();
    System.getProperties().forEach((k, v) -> properties.put(k.toString(), v.toString()));
    properties.putIfAbsent("spark.master", DEFAULT_MASTER);
    return properties;
  }

  /**
   * The application's Spark context; the job needs no SQL session, whose start would cost seconds
   * more. Spark's properties come from spark-submit or the {@code spark.*} system properties, the
   * master defaulting to {@link #DEFAULT_MASTER}. The job needs Java serialization ({@link
   * SparkMergeJob#SERIALIZER}), so a cluster-wide {@code spark.serializer} (Kryo in
   * spark-defaults.conf, say) is overridden for this application, with a warning.
   */
  static SparkContext sparkContext() {
    SparkConf conf = new SparkConf().setAppName(Cli.PROGRAM);
    if (!conf.contains("spark.master")) {
      conf.setMaster(DEFAULT_MASTER);
    }
    String serializer = conf.get("spark.serializer", SparkMergeJob.SERIALIZER);
    if (!serializer.equals(SparkMergeJob.SERIALIZER)) {
      // looked up here, so that logging starts with Spark, not before it
      LoggerFactory.getLogger("knots-merge")
          .warn(
              "spark.serializer={} is replaced by {} for this application: the merge's records"
                  + " need Java serialization.",
              serializer,
              SparkMergeJob.SERIALIZER);
    }
    return SparkContext.getOrCreate(conf.set("spark.serializer", SparkMergeJob.SERIALIZER));
  }

  private static void logHeadStart(HeadStart head) {
    Logger log = LoggerFactory.getLogger("knots-merge");
    head.failure()
        .ifPresentOrElse(
            e ->
                log.warn(
                    "Could not warm up the merge's kernels while Spark started ({}); the first"
                        + " layer tasks run them cold, which only costs time.",
                    e.toString()),
            () ->
                log.debug(
                    "Warmed up the merge's kernels with {} synthetic merges while Spark started.",
                    head.runs()));
  }

  /** Whether the command line asks for help anywhere ({@code --help} or {@code -h}). */
  static boolean helpRequested(String[] args) {
    for (String arg : args) {
      if (arg.equals("--help") || arg.equals("-h")) {
        return true;
      }
    }
    return false;
  }
}
