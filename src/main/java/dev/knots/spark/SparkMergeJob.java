package dev.knots.spark;

import dev.knots.io.CountingFileStore;
import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.hadoop.Redacted;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.io.peft.AdapterWriter;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.job.AlignedModule;
import dev.knots.job.MergeOutputs;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergeResult;
import dev.knots.job.ModelWriter;
import dev.knots.job.ModuleOutcome;
import dev.knots.job.OutputCommit;
import dev.knots.job.PlainTensorMerge;
import dev.knots.job.RunOptions;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.SignVote;
import dev.knots.plan.AlignPath;
import dev.knots.plan.LayerPlan;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.spark.HashPartitioner;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * The merge as a Spark job: plan (driver, headers only) -> align (one task per layer, persisted) ->
 * statistics (reduce of per-module summaries) -> merge (per layer) -> write (executors write tensor
 * data) -> commit (driver writes config, index, report and {@code _SUCCESS} last).
 */
public final class SparkMergeJob {
  /**
   * Test seam, a Spark local property: the first attempt of the align task of this layer index
   * fails, so tests can show that a retried task writes the same bytes.
   */
  public static final String FAIL_ONCE_CONF = "knots.test.failFirstAttemptOfLayer";

  /**
   * Test seam, a Spark local property: every attempt of the output task of this layer index fails
   * right after writing the layer's adapter part, so the job fails with part of its output written.
   */
  public static final String FAIL_WRITE_CONF = "knots.test.failAfterWritingLayer";

  private static final Logger LOG = LoggerFactory.getLogger("knots-merge");

  private final JavaSparkContext jsc;
  private final MergeRequest request;
  private final RunOptions options;
  private final String jobGroup = "knots-merge-" + UUID.randomUUID();
  private final Map<String, Double> timings = new LinkedHashMap<>();
  private final List<JavaPairRDD<Integer, AlignedModule>> distributedModules = new ArrayList<>();
  private long phaseStart = System.nanoTime();

  private SparkMergeJob(JavaSparkContext jsc, MergeRequest request, RunOptions options) {
    this.jsc = jsc;
    this.request = request;
    this.options = options;
  }

  /**
   * Runs the merge on {@code spark} and commits its output.
   *
   * @param sparkStartSeconds how long starting Spark took, for the report
   * @param processStartNanos {@link System#nanoTime()} when the process started its work
   */
  public static MergeReport run(
      SparkContext spark,
      MergeRequest request,
      RunOptions options,
      double sparkStartSeconds,
      long processStartNanos)
      throws IOException {
    return run(spark, request, options, Optional.empty(), sparkStartSeconds, processStartNanos);
  }

  /**
   * As {@link #run(SparkContext, MergeRequest, RunOptions, double, long)}, with the request's
   * inputs already opened (headers read) when {@code opened} holds them.
   */
  public static MergeReport run(
      SparkContext spark,
      MergeRequest request,
      RunOptions options,
      Optional<MergeInputs> opened,
      double sparkStartSeconds,
      long processStartNanos)
      throws IOException {
    requireJavaSerializer(spark);
    SparkMergeJob job =
        new SparkMergeJob(JavaSparkContext.fromSparkContext(spark), request, options);
    // Before Spark: the command line and the headers read to plan, as far as Spark's start, which
    // may run beside them, does not cover them.
    double sinceProcessStart = (System.nanoTime() - processStartNanos) / 1e9;
    job.timings.put("beforeSparkSeconds", Math.max(0, sinceProcessStart - sparkStartSeconds));
    job.timings.put("sparkStartSeconds", sparkStartSeconds);
    return job.run(opened, processStartNanos);
  }

  /**
   * The serializer the job needs: its task results, broadcasts and persisted layers are
   * Java-serializable records, which Kryo cannot rebuild without registration.
   */
  public static final String SERIALIZER = "org.apache.spark.serializer.JavaSerializer";

  private static void requireJavaSerializer(SparkContext spark) {
    String serializer = spark.conf().get("spark.serializer", SERIALIZER);
    if (!serializer.equals(SERIALIZER)) {
      throw new IllegalArgumentException(
          "Cannot run the merge with spark.serializer="
              + serializer
              + ": the job's task results, broadcasts and persisted layers need Java"
              + " serialization. Start Spark with spark.serializer="
              + SERIALIZER
              + " (scripts/knots-merge and dev.knots.cli.Main set it).");
    }
  }

  private MergeReport run(Optional<MergeInputs> opened, long processStartNanos) throws IOException {
    Instant started = Instant.now();
    LongAccumulator bytesRead = jsc.sc().longAccumulator("knots bytes read");
    LongAccumulator bytesWritten = jsc.sc().longAccumulator("knots bytes written");
    // Tasks get the store, with its Hadoop configuration, from a broadcast: once per executor.
    BroadcastFileStore shipped =
        BroadcastFileStore.of(jsc, new RoutingFileStore(jsc.hadoopConfiguration()));
    FileStore store =
        new CountingFileStore(shipped, new AccumulatorCounters(bytesRead, bytesWritten));
    OutputCommit commit;
    try {
      request.checkLocations(store);
      commit = OutputCommit.begin(store, request.output(), options.overwrite());
    } catch (IOException | RuntimeException e) {
      shipped.destroy();
      throw e;
    }
    ProgressListener progress = new ProgressListener(jobGroup);
    jsc.sc().addSparkListener(progress);
    Broadcast<List<LayerPlan>> layerPlans = null;
    JavaRDD<AlignedLayer> aligned = null;
    JavaRDD<MergedLayer> merged = null;
    try {
      MergeInputs inputs =
          opened.isPresent() ? opened.get() : request.openInputs(store, options.unsupported());
      inputs.warnings().forEach(w -> LOG.warn("Left out: {}", w));
      MergePlan plan =
          Planner.plan(
              inputs, request.method(), request.concat(), options.paths().resolve(sparkConf()));
      HfModelFiles base = null;
      if (request.format().writesModel()) {
        base = HfModelFiles.open(store, request.base().orElseThrow());
        ModelWriter.checkCompatible(base, inputs.modules(), inputs.fanInFanOut());
      }
      Map<String, Long> paths =
          plan.modules().stream()
              .collect(
                  Collectors.groupingBy(
                      m -> m.path().label(), TreeMap::new, Collectors.counting()));
      LOG.info(
          "Planned {} modules in {} tasks for {} {}s ({}); alignment paths {} (--dry-run lists"
              + " each module's path and why).",
          plan.moduleCount(),
          plan.layers().size(),
          plan.taskCount(),
          inputs.kind(),
          request.method().name(),
          paths);
      plan.modules().stream()
          .filter(m -> m.path() == AlignPath.DISTRIBUTED)
          .forEach(m -> LOG.info("{}: distributed path ({})", m.key(), m.reason()));
      plan.modules()
          .forEach(m -> LOG.debug("{}: {} path ({})", m.key(), m.path().label(), m.reason()));
      lap("planSeconds");

      int layers = plan.layers().size();
      Optional<JavaPairRDD<Integer, AlignedModule>> distributed =
          alignDistributedModules(plan, store);
      lap("distributedAlignSeconds");
      String align =
          String.format(
              Locale.ROOT,
              "align %d layers, %d adapters (%s)",
              layers,
              plan.taskCount(),
              request.method().name());
      // One layer per partition, as in the distributed modules' partitioning by layer when they are
      // zipped in: parallelize slices evenly, keys are 0..layers-1. A partition holds only its
      // layer's index, and the plans come from a broadcast, so no task of any stage deserializes a
      // plan's object graph.
      layerPlans = jsc.broadcast(plan.layers());
      JavaRDD<Integer> layerIndices =
          jsc.parallelize(IntStream.range(0, layers).boxed().toList(), layers);
      AlignLayer alignLayer =
          new AlignLayer(
              request.method(),
              request.parameters(),
              request.concat(),
              store,
              layerPlans,
              layerProperty(FAIL_ONCE_CONF));
      aligned =
          (distributed.isEmpty()
                  ? layerIndices.mapPartitions(alignLayer)
                  : layerIndices.zipPartitions(
                      distributed.get().partitionBy(new HashPartitioner(layers)), alignLayer))
              .persist(StorageLevel.MEMORY_AND_DISK());

      // The first statistics round is the job that computes and persists the alignment, so the
      // representations are produced and summarised in one pass.
      int[] round = {0};
      Runnable beforeEachRound =
          () -> {
            round[0]++;
            if (round[0] == 1) {
              describe(align + ", with statistics round 1 (top-K histograms or majority sign)");
              return;
            }
            if (round[0] == 2) {
              lap("alignSeconds");
            }
            describe(
                String.format(
                    Locale.ROOT,
                    "statistics round %d over %d layers (top-K thresholds, majority sign)",
                    round[0],
                    layers));
          };
      MergeStatistics statistics =
          MergeStatistics.compute(
              request.method(),
              request.parameters(),
              plan.taskCount(),
              new RddModuleScan(aligned, beforeEachRound));
      if (round[0] == 0) {
        describe(align);
        aligned.count();
      }
      lap(round[0] <= 1 ? "alignSeconds" : "statisticsSeconds");
      unpersistDistributedModules();

      String adapterDirectory =
          MergeOutputs.adapterDirectory(request.format(), commit.staging(), store);
      String parts = null;
      if (request.format().writesAdapter()) {
        parts = AdapterOutput.partsDirectory(store, adapterDirectory);
        store.mkdirs(parts);
      }
      describe(
          String.format(
              Locale.ROOT,
              "merge %d layers%s",
              layers,
              parts == null ? "" : " and write their adapter parts"));
      LayerOutput output =
          new LayerOutput(
              store,
              parts,
              request.loraRank().isPresent() ? request.loraRank().getAsInt() : null,
              layerProperty(FAIL_WRITE_CONF));
      merged = aligned.map(new MergeLayer(request.method(), request.parameters(), statistics));
      if (base != null) {
        merged.persist(StorageLevel.MEMORY_AND_DISK());
      }
      JavaRDD<MergedLayer> mergedForModel = merged;
      List<LayerOutput.Result> results = merged.map(output).collect();
      SignVote vote =
          results.stream().map(LayerOutput.Result::vote).reduce(SignVote.NONE, SignVote::plus);
      int majority =
          statistics.majorityPending()
              ? (int) Long.signum(vote.signSum())
              : statistics.majoritySign();
      long undecided = results.stream().filter(r -> r.byMajority().size() > 1).count();
      if (undecided > 0) {
        LOG.info(
            "In {} of {} layers some entry's pruned sum cancelled exactly, so the global majority"
                + " sign ({}) decides it; those layers were merged for every possible majority.",
            undecided,
            layers,
            majority > 0 ? "+" : majority < 0 ? "-" : "0");
        if (base != null) {
          mergedForModel = merged.map(layer -> layer.decided(majority));
        }
      }
      List<LayerOutput.Written> written =
          results.stream().map(result -> result.decided(majority)).toList();
      aligned.unpersist(false);
      lap("mergeSeconds");

      if (parts != null) {
        describe("assemble the merged adapter");
        AdapterOutput.assemble(
            jsc,
            written.stream().map(LayerOutput.Written::part).filter(Objects::nonNull).toList(),
            store,
            adapterDirectory,
            inputs.adapterSettings(AdapterWriter.to(store, adapterDirectory)));
      }
      if (base != null) {
        writeModel(store, commit.staging(), inputs, base, mergedForModel);
      }
      lap("writeSeconds");

      List<ModuleOutcome> outcomes = written.stream().flatMap(w -> w.outcomes().stream()).toList();
      List<String> notInAdapter = MergeOutputs.changesNotInAdapter(request, inputs, store);
      if (!notInAdapter.isEmpty()) {
        LOG.warn(
            "The extracted adapter cannot carry the merged changes of {} tensors that are not 2-D"
                + " weights (norms, biases); the merged model (--format model or both) has them."
                + " They are listed in {}.",
            notInAdapter.size(),
            MergeReport.FILE_NAME);
      }
      MergeResult result = new MergeResult(outcomes, notInAdapter);
      timings.put("totalSeconds", (System.nanoTime() - processStartNanos) / 1e9);
      MergeReport report =
          new MergeReport(
              request,
              options.overwrite(),
              plan,
              result,
              engine(),
              timings,
              bytesRead.value(),
              bytesWritten.value(),
              peakHeapBytes(),
              started,
              Instant.now());
      commit.commit(report.toJson(), MergeReport.FILE_NAME);
      return report;
    } catch (Exception e) {
      // Spark's task failures arrive as checked SparkExceptions that Java does not declare.
      commit.abort();
      throw failure(request.output(), e);
    } finally {
      jsc.sc().removeSparkListener(progress);
      if (aligned != null) {
        aligned.unpersist(false);
      }
      if (merged != null) {
        merged.unpersist(false);
      }
      unpersistDistributedModules();
      // Every job is over, so no task attempt can need the store or the plans any more.
      shipped.destroy();
      if (layerPlans != null) {
        layerPlans.destroy();
      }
      jsc.clearJobGroup();
    }
  }

  /**
   * Runs the alignment of every module planned DISTRIBUTED, one after another (each is several
   * Spark jobs over the whole cluster), and returns them keyed by layer index, persisted; empty
   * when no module takes that path.
   */
  private Optional<JavaPairRDD<Integer, AlignedModule>> alignDistributedModules(
      MergePlan plan, FileStore store) {
    for (LayerPlan layer : plan.layers()) {
      for (ModulePlan module : layer.modules()) {
        if (module.path() == AlignPath.DISTRIBUTED) {
          long start = System.nanoTime();
          distributedModules.add(
              DistributedAlignment.align(
                  jsc,
                  layer.index(),
                  module.spec(),
                  request.concat(),
                  store,
                  this::describe,
                  DistributedAlignment.Route.of(module.spec(), request.concat())));
          LOG.info(
              "{}: aligned distributed in {} s",
              module.key(),
              String.format(Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9));
        }
      }
    }
    return distributedModules.stream().reduce(JavaPairRDD::union);
  }

  /** The aligned layers hold the distributed modules from here on. */
  private void unpersistDistributedModules() {
    distributedModules.forEach(m -> m.unpersist(false));
    distributedModules.clear();
  }

  /** The Spark configuration as a map, for the planner's default budgets. */
  private Map<String, String> sparkConf() {
    Map<String, String> conf = new LinkedHashMap<>();
    for (Tuple2<String, String> entry : jsc.getConf().getAll()) {
      conf.put(entry._1(), entry._2());
    }
    return conf;
  }

  private void writeModel(
      FileStore store,
      String root,
      MergeInputs inputs,
      HfModelFiles base,
      JavaRDD<MergedLayer> merged)
      throws IOException {
    describe(
        String.format(Locale.ROOT, "write the merged model (%d shards)", base.shards().size()));
    String directory = MergeOutputs.modelDirectory(request.format(), root, store);
    store.mkdirs(directory);
    MergeOutputs.copyModelSideFiles(store, base.location(), directory);
    ModelOutput.write(
        merged, store, base, directory, PlainTensorMerge.of(request, inputs), inputs.fanInFanOut());
  }

  /** A layer index set as a Spark local property (a test seam), or -1. */
  private int layerProperty(String name) {
    String layer = jsc.getLocalProperty(name);
    return layer == null ? -1 : Integer.parseInt(layer);
  }

  /**
   * The failure as the user should see it: naming the destination, unless an input or an option is
   * to blame. Spark wraps a task's exception in "Job aborted due to stage failure ..." and a task
   * names the staging location it wrote to, so the reason is our own message from the cause chain
   * when there is one.
   */
  static IOException failure(String output, Exception e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof FileFormatException || t instanceof InvalidOptionException) {
        // what an input holds or an option asks for: the output is not to blame
        return new IOException(Locations.redact(t.getMessage()), Redacted.causeOrNull(e));
      }
    }
    String destination = Locations.redact(output);
    String reason = Locations.redact(reason(e));
    if (e instanceof IOException io && reason.startsWith("Cannot write the merge to ")) {
      return io;
    }
    return new IOException(
        "Cannot write the merge to " + destination + ": " + reason, Redacted.causeOrNull(e));
  }

  /** Our own message from the cause chain, else the first line of the outermost message. */
  public static String reason(Throwable e) {
    Optional<Throwable> ours = explaining(e);
    if (ours.isPresent()) {
      return ours.get().getMessage();
    }
    String text = e.getMessage() == null ? e.toString() : e.getMessage();
    return text.lines().findFirst().orElse(text);
  }

  /**
   * The first exception of the cause chain with our own message for the user: an I/O failure, or
   * one of this project's exceptions. Empty for a failure nobody explained, such as a bug.
   */
  public static Optional<Throwable> explaining(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null
          && (t instanceof IOException || t.getClass().getName().startsWith("dev.knots."))) {
        return Optional.of(t);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return Optional.empty();
  }

  /** Names the next Spark jobs in the UI and in the progress log. */
  private void describe(String description) {
    jsc.setJobGroup(jobGroup, description, false);
  }

  private void lap(String phase) {
    long now = System.nanoTime();
    timings.put(phase, (now - phaseStart) / 1e9);
    phaseStart = now;
  }

  private Map<String, String> engine() {
    Map<String, String> engine = new LinkedHashMap<>();
    engine.put("engine", "spark");
    engine.put("sparkVersion", jsc.version());
    engine.put("master", jsc.master());
    engine.put("applicationId", jsc.sc().applicationId());
    engine.put("defaultParallelism", Integer.toString(jsc.defaultParallelism()));
    return engine;
  }

  /** The driver JVM's peak heap use (in local mode the executors share this JVM). */
  public static long peakHeapBytes() {
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    return peak;
  }
}
