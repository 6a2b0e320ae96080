package dev.knots.spark;

import dev.knots.io.CountingFileStore;
import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.io.peft.AdapterWriter;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.job.AlignedModule;
import dev.knots.job.MergeEngine;
import dev.knots.job.MergeOutputs;
import dev.knots.job.MergeRequest;
import dev.knots.job.ModuleOutcome;
import dev.knots.job.PlainTensorMerge;
import dev.knots.job.PlannedMerge;
import dev.knots.merge.MergeStatistics;
import dev.knots.plan.AlignPath;
import dev.knots.plan.LayerPlan;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
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

/**
 * The merge's steps as Spark jobs: align (one task per layer, persisted; modules too large for a
 * task through {@link DistributedAlignment} first), statistics (folds over the persisted layers),
 * merge and write (executors write the adapter's layer parts and the model's shards; the driver
 * assembles and writes the small files). Close it when its merges are done.
 */
public final class SparkEngine implements MergeEngine, AutoCloseable {
  /**
   * The serializer the job needs: its task results, broadcasts and persisted layers are
   * Java-serializable records, which Kryo cannot rebuild without registration.
   */
  public static final String SERIALIZER = "org.apache.spark.serializer.JavaSerializer";

  private static final Logger LOG = LoggerFactory.getLogger("knots-merge");

  private final JavaSparkContext jsc;
  private final BroadcastFileStore shipped;
  private final FileStore store;
  private final LongAccumulator bytesRead;
  private final LongAccumulator bytesWritten;
  private final String jobGroup = "knots-merge-" + UUID.randomUUID();
  private final ProgressListener progress = new ProgressListener(jobGroup);

  private <S extends FileStore & Serializable> SparkEngine(JavaSparkContext jsc, S store) {
    this.jsc = jsc;
    this.bytesRead = jsc.sc().longAccumulator("knots bytes read");
    this.bytesWritten = jsc.sc().longAccumulator("knots bytes written");
    // Tasks get the store, with its Hadoop configuration, from a broadcast: once per executor.
    this.shipped = BroadcastFileStore.of(jsc, store);
    this.store = new CountingFileStore(shipped, new AccumulatorCounters(bytesRead, bytesWritten));
    jsc.sc().addSparkListener(progress);
  }

  /** An engine on {@code spark} that reaches storage through its Hadoop configuration. */
  public static SparkEngine start(SparkContext spark) {
    return start(spark, new RoutingFileStore(spark.hadoopConfiguration()));
  }

  /**
   * An engine on {@code spark} whose driver and tasks reach storage through {@code store} (tasks
   * get it from a broadcast).
   */
  public static <S extends FileStore & Serializable> SparkEngine start(
      SparkContext spark, S store) {
    requireJavaSerializer(spark);
    return new SparkEngine(JavaSparkContext.fromSparkContext(spark), store);
  }

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

  @Override
  public FileStore store() {
    return store;
  }

  @Override
  public Alignment align(PlannedMerge merge) {
    MergeRequest request = merge.request();
    MergePlan plan = merge.plan();
    int layers = plan.layers().size();
    List<JavaPairRDD<Integer, AlignedModule>> distributed = new ArrayList<>();
    Broadcast<List<LayerPlan>> layerPlans = null;
    try {
      alignDistributedModules(plan, request, distributed);
      // One layer per partition, as in the distributed modules' partitioning by layer when they
      // are zipped in: parallelize slices evenly, keys are 0..layers-1. A partition holds only its
      // layer's index, and the plans come from a broadcast, so no task of any stage deserializes a
      // plan's object graph.
      layerPlans = jsc.broadcast(plan.layers());
      JavaRDD<Integer> layerIndices =
          jsc.parallelize(IntStream.range(0, layers).boxed().toList(), layers);
      AlignLayer alignLayer = new AlignLayer(request.concat(), store, layerPlans);
      Optional<JavaPairRDD<Integer, AlignedModule>> zipped =
          distributed.stream().reduce(JavaPairRDD::union);
      JavaRDD<AlignedLayer> aligned =
          (zipped.isEmpty()
                  ? layerIndices.mapPartitions(alignLayer)
                  : layerIndices.zipPartitions(
                      zipped.get().partitionBy(new HashPartitioner(layers)), alignLayer))
              .persist(StorageLevel.MEMORY_AND_DISK());
      describe(
          merge,
          String.format(
              Locale.ROOT,
              "align %d layers, %d %ss (%s)",
              layers,
              plan.taskCount(),
              merge.inputs().kind(),
              request.method().name()));
      try {
        aligned.count();
      } catch (RuntimeException e) {
        aligned.unpersist(false);
        throw e;
      }
      return new PersistedAlignment(aligned, layerPlans);
    } catch (RuntimeException e) {
      if (layerPlans != null) {
        layerPlans.destroy();
      }
      throw e;
    } finally {
      // the aligned layers hold the distributed modules from here on
      distributed.forEach(m -> m.unpersist(false));
    }
  }

  /**
   * Aligns every module planned DISTRIBUTED, one after another (each is several Spark jobs over the
   * whole cluster), into {@code aligned}, keyed by layer index and persisted.
   */
  private void alignDistributedModules(
      MergePlan plan, MergeRequest request, List<JavaPairRDD<Integer, AlignedModule>> aligned) {
    for (LayerPlan layer : plan.layers()) {
      for (ModulePlan module : layer.modules()) {
        if (module.path() == AlignPath.DISTRIBUTED) {
          long start = System.nanoTime();
          aligned.add(
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
  }

  /** A plan's aligned layers, persisted on the executors. */
  private final class PersistedAlignment implements Alignment {
    private final JavaRDD<AlignedLayer> layers;
    private final Broadcast<List<LayerPlan>> layerPlans;

    PersistedAlignment(JavaRDD<AlignedLayer> layers, Broadcast<List<LayerPlan>> layerPlans) {
      this.layers = layers;
      this.layerPlans = layerPlans;
    }

    @Override
    public RddModuleScan modules(PlannedMerge merge) {
      int count = layerPlans.value().size();
      return new RddModuleScan(
          layers,
          merge.request().method(),
          merge.request().parameters(),
          round ->
              describe(
                  merge,
                  String.format(
                      Locale.ROOT,
                      "statistics round %d over %d layers (top-K thresholds, majority sign)",
                      round,
                      count)));
    }

    @Override
    public List<ModuleOutcome> mergeAndWrite(
        PlannedMerge merge, MergeStatistics statistics, String root) throws IOException {
      MergeRequest request = merge.request();
      if (MergeOutputs.outcomesOnly(request)) {
        describe(merge, String.format(Locale.ROOT, "merge %d layers", layerPlans.value().size()));
        return layers
            .map(new LayerOutcomes(request.method(), request.parameters(), statistics))
            .collect()
            .stream()
            .flatMap(List::stream)
            .toList();
      }
      String adapterDirectory = MergeOutputs.adapterDirectory(request.format(), root, store);
      String parts = null;
      if (request.format().writesAdapter()) {
        parts = AdapterOutput.partsDirectory(store, adapterDirectory);
        store.mkdirs(parts);
      }
      describe(
          merge,
          String.format(
              Locale.ROOT,
              "merge %d layers%s",
              layerPlans.value().size(),
              parts == null ? "" : " and write their adapter parts"));
      LayerOutput output =
          new LayerOutput(
              store, parts, request.loraRank().isPresent() ? request.loraRank().getAsInt() : null);
      JavaRDD<MergedLayer> merged =
          layers.map(new MergeLayer(request.method(), request.parameters(), statistics));
      if (merge.base().isPresent()) {
        merged.persist(StorageLevel.MEMORY_AND_DISK());
      }
      try {
        List<LayerOutput.Written> written = merged.map(output).collect();
        if (parts != null) {
          describe(merge, "assemble the merged adapter");
          AdapterOutput.assemble(
              jsc,
              written.stream().map(LayerOutput.Written::part).filter(Objects::nonNull).toList(),
              store,
              adapterDirectory,
              merge.inputs().adapterSettings(AdapterWriter.to(store, adapterDirectory)));
        }
        if (merge.base().isPresent()) {
          writeModel(merge, merge.base().get(), root, merged);
        }
        return written.stream().flatMap(w -> w.outcomes().stream()).toList();
      } finally {
        merged.unpersist(false);
      }
    }

    @Override
    public void close() {
      layers.unpersist(false);
      // no task can need the plans any more
      layerPlans.destroy();
    }
  }

  private void writeModel(
      PlannedMerge merge, HfModelFiles base, String root, JavaRDD<MergedLayer> merged)
      throws IOException {
    describe(
        merge,
        String.format(Locale.ROOT, "write the merged model (%d shards)", base.shards().size()));
    MergeRequest request = merge.request();
    String directory = MergeOutputs.modelDirectory(request.format(), root, store);
    store.mkdirs(directory);
    MergeOutputs.copyModelSideFiles(store, base.location(), directory);
    ModelOutput.write(
        merged,
        store,
        base,
        directory,
        PlainTensorMerge.of(request, merge.inputs()),
        merge.inputs().fanInFanOut());
  }

  /**
   * Names the next Spark jobs in the UI and in the progress log: what they do, for which merge (its
   * output, which for a sweep's point names the combination and the point).
   */
  private void describe(PlannedMerge merge, String what) {
    describe(what + " for " + Locations.redact(merge.request().output()));
  }

  private void describe(String description) {
    jsc.setJobGroup(jobGroup, description, false);
  }

  @Override
  public Map<String, String> description() {
    Map<String, String> engine = new LinkedHashMap<>();
    engine.put("engine", "spark");
    engine.put("sparkVersion", jsc.version());
    engine.put("master", jsc.master());
    engine.put("applicationId", jsc.sc().applicationId());
    engine.put("defaultParallelism", Integer.toString(jsc.defaultParallelism()));
    return engine;
  }

  @Override
  public long bytesRead() {
    return bytesRead.value();
  }

  @Override
  public long bytesWritten() {
    return bytesWritten.value();
  }

  /** Stops following the engine's jobs and frees the store's broadcast. */
  @Override
  public void close() {
    jsc.sc().removeSparkListener(progress);
    shipped.destroy();
    jsc.clearJobGroup();
  }
}
