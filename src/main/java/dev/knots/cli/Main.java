package dev.knots.cli;

import dev.knots.io.Locations;
import dev.knots.io.Storage;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergeRunner;
import dev.knots.job.OutputCommit;
import dev.knots.job.PlannedMerge;
import dev.knots.job.RunOptions;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.PathOptions;
import dev.knots.plan.PathRequest;
import dev.knots.spark.SparkEngine;
import dev.knots.sweep.SweepDryRun;
import dev.knots.sweep.SweepFile;
import dev.knots.sweep.SweepPlan;
import dev.knots.sweep.SweepRunner;
import dev.knots.sweep.TableWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
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
    // Tasks in this JVM: local Spark starts while the driver parses and plans.
    SparkStart spark =
        runsTasksHere(System.getProperty("spark.master")) && SparkStart.needed(args)
            ? SparkStart.inBackground(Main::sparkContext)
            : SparkStart.onDemand(Main::sparkContext);
    int code = run(args, System.out, System.err, spark);
    // A local-cluster's workers would otherwise stop during the JVM's shutdown, before the context,
    // and relaunch executors meanwhile.
    spark.stopIfStarted();
    if (code != 0) {
      System.exit(code);
    }
  }

  /**
   * Whether the master runs the tasks in this JVM (a local master, or none given, which defaults to
   * {@link #DEFAULT_MASTER}): then starting Spark early costs the cluster nothing.
   */
  static boolean runsTasksHere(String master) {
    return PathRequest.localTaskSlots(master == null ? DEFAULT_MASTER : master).isPresent();
  }

  /** Runs the command line against {@code spark} (started only when a merge needs it). */
  static int run(String[] args, PrintStream out, PrintStream err, Supplier<SparkContext> spark) {
    return run(args, out, err, SparkStart.onDemand(spark));
  }

  /**
   * As {@link #run(String[], PrintStream, PrintStream, Supplier)}, with Spark started as {@code
   * spark} says. A command that ends without the Spark context abandons its start.
   */
  static int run(String[] args, PrintStream out, PrintStream err, SparkStart spark) {
    try {
      return runCommand(args, out, err, spark);
    } finally {
      spark.abandonIfUnused();
    }
  }

  private static int runCommand(String[] args, PrintStream out, PrintStream err, SparkStart spark) {
    Optional<MergeCommand> parsed = Cli.parse(args, out, err);
    if (parsed.isEmpty()) {
      return helpRequested(args) ? 0 : 2;
    }
    MergeCommand command = parsed.get();
    if (command.sweep) {
      return runSweep(command, out, err, spark);
    }
    MergeRequest request = null;
    // what the output held, once checked: what a failed merge says it left there
    OutputCommit.Existing before = null;
    try {
      request = command.request();
      RunOptions options = command.runOptions();
      RoutingFileStore headers = headerStore();
      request.checkLocations(headers);
      before = OutputCommit.check(headers, request.output(), options.overwrite());
      PlannedMerge planned = prepare(request, options, headers, err);
      if (command.dryRun) {
        out.print(dryRun(planned, before));
        return 0;
      }
      MergeReport report;
      try (SparkEngine engine = SparkEngine.start(spark.context())) {
        report =
            new MergeRunner(engine, options.overwrite(), startup(spark), PROCESS_START)
                .run(planned);
      }
      out.println(report.summary());
      return 0;
    } catch (InvalidOptionException e) {
      ErrorOutput.print(err, e.getMessage());
      err.println("Try " + Cli.PROGRAM + " --help");
      return 2;
    } catch (Exception e) {
      // Spark's task failures arrive as checked SparkExceptions that Java does not declare.
      ErrorOutput.print(err, e);
      if (!command.dryRun && before != null) {
        err.println(ErrorOutput.shown(before.afterFailure(request.output())));
      }
      return 1;
    }
  }

  /**
   * The {@code sweep} command: reads and checks the sweep file and every location before Spark,
   * then runs every point. Exit 0 when every point is done, 1 when some failed (the table says
   * which), 2 for a file or option it cannot use.
   */
  private static int runSweep(
      MergeCommand command, PrintStream out, PrintStream err, SparkStart spark) {
    try {
      RoutingFileStore headers = headerStore();
      SweepFile file = SweepFile.parse(command.config, readConfig(headers, command.config));
      SweepPlan plan =
          SweepPlan.of(
              file,
              Optional.ofNullable(command.output),
              Optional.ofNullable(command.format),
              headers);
      plan.checkLocations(headers);
      plan.checkOutput(headers);
      warnLeftovers(
          err,
          plan.leftovers(headers),
          "in " + plan.output(),
          "runs of this sweep",
          "point",
          "run of this sweep");
      PathOptions paths = plan.runOptions().paths().resolve(sparkProperties());
      if (command.dryRun) {
        out.print(SweepDryRun.describe(plan, headers, paths));
        return 0;
      }
      SweepRunner.Outcome outcome;
      try (SparkEngine engine = SparkEngine.start(spark.context())) {
        TableWriter parquet = new ParquetResults(spark.context().hadoopConfiguration());
        outcome = new SweepRunner(engine, paths, List.of(parquet), out).run(plan, command.restart);
      }
      if (!outcome.complete()) {
        ErrorOutput.print(
            err,
            "not every point of the sweep is done; "
                + plan.output()
                + "/"
                + SweepPlan.RESULTS_CSV
                + " says which failed and why. Run the same command again to retry them; the"
                + " points that are done are kept.");
        return 1;
      }
      return 0;
    } catch (InvalidOptionException e) {
      ErrorOutput.print(err, e.getMessage());
      err.println("Try " + Cli.PROGRAM + " --help");
      return 2;
    } catch (Exception e) {
      // Spark's failures arrive as checked SparkExceptions that Java does not declare.
      ErrorOutput.print(err, e);
      return 1;
    }
  }

  /** The sweep file's text. */
  private static String readConfig(RoutingFileStore store, String location) throws IOException {
    return new String(
        Storage.readAll(store.inputFile(location), CONFIG_LIMIT), StandardCharsets.UTF_8);
  }

  private static final int CONFIG_LIMIT = 16 << 20;

  /**
   * What a dry run and a merge both check before any work once the locations and the output are
   * checked, from headers only and before waiting for Spark, so that an input the merge cannot read
   * or a module no path can take (an MLlib limit, a budget) fails in the first second, naming the
   * layer, module, file or option to change: the inputs, the plan and, when a model is written, the
   * base. Warns (on {@code err}) about what earlier runs left beside the output.
   *
   * @throws dev.knots.plan.PlanningException if the plan cannot be made
   */
  private static PlannedMerge prepare(
      MergeRequest request, RunOptions options, RoutingFileStore store, PrintStream err)
      throws IOException {
    warnLeftovers(
        err,
        OutputCommit.leftovers(store, request.output()),
        "beside " + request.output(),
        "merges into it",
        "output",
        "merge into this output");
    return PlannedMerge.prepare(
        request, options.unsupported(), options.paths().resolve(sparkProperties()), store);
  }

  /**
   * Names the directories that killed runs left (a staging directory, an output moved aside); none
   * is deleted, as another run may be using it.
   */
  private static void warnLeftovers(
      PrintStream err,
      List<String> leftovers,
      String place,
      String leftBy,
      String complete,
      String otherRun) {
    if (!leftovers.isEmpty()) {
      err.println(
          "Warning: "
              + ErrorOutput.shown(
                  place
                      + " are directories that "
                      + leftBy
                      + " left: "
                      + String.join(", ", leftovers)
                      + ". None is a complete "
                      + complete
                      + " (killed runs leave them). If no other "
                      + otherRun
                      + " is running, they can be deleted."));
    }
  }

  private static RoutingFileStore headerStore() {
    return RoutingFileStore.forSparkProperties(sparkProperties());
  }

  /**
   * The seconds before the first merge: the command line and the headers read to plan, as far as
   * Spark's start, which may run beside them, does not cover them; and Spark's start.
   */
  private static Map<String, Double> startup(SparkStart spark) {
    double sparkStart = spark.seconds();
    double sinceProcessStart = (System.nanoTime() - PROCESS_START) / 1e9;
    Map<String, Double> startup = new LinkedHashMap<>();
    startup.put("beforeSparkSeconds", Math.max(0, sinceProcessStart - sparkStart));
    startup.put("sparkStartSeconds", sparkStart);
    return startup;
  }

  /** The plan of a prepared merge, as {@code --dry-run} prints it. */
  private static String dryRun(PlannedMerge planned, OutputCommit.Existing existing) {
    MergeRequest request = planned.request();
    MergeInputs inputs = planned.inputs();
    StringBuilder text = new StringBuilder(planned.plan().describe());
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
    inputs
        .warnings()
        .forEach(w -> text.append("warning: left out ").append(ErrorOutput.shown(w)).append('\n'));
    if (existing != OutputCommit.Existing.NOTHING) {
      // check() refused it without --overwrite
      text.append("Output ")
          .append(Locations.redact(request.output()))
          .append(" exists and would be replaced (--overwrite).\n");
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
   * SparkEngine#SERIALIZER}), so a cluster-wide {@code spark.serializer} (Kryo in
   * spark-defaults.conf, say) is overridden for this application, with a warning.
   */
  static SparkContext sparkContext() {
    SparkConf conf = new SparkConf().setAppName(Cli.PROGRAM);
    if (!conf.contains("spark.master")) {
      conf.setMaster(DEFAULT_MASTER);
    }
    String serializer = conf.get("spark.serializer", SparkEngine.SERIALIZER);
    if (!serializer.equals(SparkEngine.SERIALIZER)) {
      // looked up here, so that logging starts with Spark, not before it
      LoggerFactory.getLogger("knots-merge")
          .warn(
              "spark.serializer={} is replaced by {} for this application: the merge's records"
                  + " need Java serialization.",
              serializer,
              SparkEngine.SERIALIZER);
    }
    // each task runs its own LAPACK calls: more OpenBLAS threads per executor only fight for its
    // cores (OpenBLAS reads this when it loads; the driver's comes from scripts/knots-merge)
    conf.setIfMissing("spark.executorEnv.OPENBLAS_NUM_THREADS", "1");
    return SparkContext.getOrCreate(conf.set("spark.serializer", SparkEngine.SERIALIZER));
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
