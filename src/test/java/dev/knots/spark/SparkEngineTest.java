package dev.knots.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.Checkpoints;
import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.PeftCheck;
import dev.knots.io.FileStore;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.job.AlignedModule;
import dev.knots.job.LocalRuns;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergeRunner;
import dev.knots.job.ModuleAligner;
import dev.knots.job.OutputCommit;
import dev.knots.job.OutputFormat;
import dev.knots.job.RecordedProgress;
import dev.knots.job.RunOptions;
import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.merge.InMemoryModuleScan;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.merge.SignVote;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.AlignPath;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathOptions;
import dev.knots.plan.PathRequest;
import dev.knots.plan.Planner;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Spark job on local[2] (three attempts per task, so a failed task is retried) against the
 * single-process merge core: the same bytes, whatever the partitioning or retries.
 */
class SparkEngineTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";
  private static SparkContext spark;

  @TempDir Path temp;

  @BeforeAll
  static void start() {
    spark = LocalSpark.start("local[2,3]", "SparkEngineTest");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static MergeRequest request(String expectedFile, Path output, OutputFormat format, String base) {
    return Fixtures.request(Fixtures.config(expectedFile), output.toString(), format, base);
  }

  @Test
  void adapterOutputIsByteIdenticalToTheSingleProcessMerge() throws Exception {
    Path viaSpark = temp.resolve("spark");
    Path viaCore = temp.resolve("core");
    MergeReport report =
        SparkRuns.run(
            spark,
            request(KNOTS_TIES, viaSpark, OutputFormat.ADAPTER, null),
            RunOptions.defaults());
    LocalRuns.run(request(KNOTS_TIES, viaCore, OutputFormat.ADAPTER, null), Fixtures.STORE, false);

    assertSameFile(viaCore, viaSpark, LoraAdapter.WEIGHTS_FILE);
    assertSameFile(viaCore, viaSpark, LoraAdapter.CONFIG_FILE);
    assertTrue(Files.exists(viaSpark.resolve(OutputCommit.SUCCESS)));
    assertFalse(Files.exists(viaSpark.resolve("_parts")), "part files are cleaned up");
    assertEquals(List.of(), stagingLeftovers(), "no staging directory left behind");

    JsonNode json = new ObjectMapper().readTree(viaSpark.resolve(MergeReport.FILE_NAME).toFile());
    assertEquals("knots-ties", json.at("/options/method").asText());
    assertEquals(20.0, json.at("/options/topK").asDouble());
    assertEquals(12, json.at("/modules").size());
    assertEquals(3, json.at("/totals/tasks").asInt(), "one task per transformer layer");
    assertTrue(json.at("/bytes/read").asLong() > 0 && json.at("/bytes/written").asLong() > 0);
    assertEquals("factor", json.at("/modules/0/path").asText());
    assertTrue(report.summary().contains("Merged 8 adapters with knots-ties"), report.summary());
    PeftCheck.assertPeftReproduces(viaSpark, KNOTS_TIES);
  }

  /**
   * Checkpoints (float32, of a sharded bf16 base, with changed norm scales) merged by the Spark job
   * give the same bytes as the single-process merge, for the model and the adapter extracted at
   * rank 8: the layer tasks read only their tensors, and the shard tasks merge the norms that live
   * in their shard. The norms' changes cannot be LoRA and are reported.
   */
  @Test
  void checkpointMergeIsByteIdenticalToTheSingleProcessMerge() throws IOException {
    Path base = temp.resolve("base");
    Fixtures.writeShardedBase(base, DType.BF16, 80_000);
    List<String> checkpoints =
        Checkpoints.writeWithNormChanges(temp.resolve("ft"), base.toString(), DType.F32);
    Path viaSpark = temp.resolve("spark");
    Path viaCore = temp.resolve("core");
    MergeReport report =
        SparkRuns.run(spark, checkpointRequest(checkpoints, base, viaSpark), RunOptions.defaults());
    LocalRuns.run(checkpointRequest(checkpoints, base, viaCore), Fixtures.STORE, false);
    int compared = 0;
    try (Stream<Path> files = Files.walk(viaCore)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        String relative = viaCore.relativize(file).toString();
        if (!relative.equals(MergeReport.FILE_NAME)) {
          assertSameFile(viaCore, viaSpark, relative);
          compared++;
        }
      }
    }
    assertTrue(compared >= 6, "shards, index, config and adapter: " + compared);
    assertTrue(report.summary().contains("Merged 8 checkpoints with knots-ties"), report.summary());
    JsonNode json = new ObjectMapper().readTree(viaSpark.resolve(MergeReport.FILE_NAME).toFile());
    assertEquals("dense", json.at("/modules/0/path").asText());
    assertEquals(8, json.at("/inputs/finetuned").size());
    assertEquals(7, json.at("/changesNotInAdapter").size(), "the norms");
    for (JsonNode module : json.at("/modules")) {
      boolean attention = module.get("key").asText().contains("self_attn");
      assertEquals(attention ? 8 : 0, module.get("loraRank").asInt(), module.toString());
    }
  }

  private static MergeRequest checkpointRequest(List<String> checkpoints, Path base, Path out) {
    return Checkpoints.request(
        KNOTS_TIES,
        checkpoints,
        base.toString(),
        out.toString(),
        Optional.empty(),
        OutputFormat.BOTH,
        OptionalInt.of(8));
  }

  @Test
  void modelOutputFromAShardedBaseMatchesTheSingleProcessMerge() throws IOException {
    Path base = temp.resolve("base");
    Fixtures.writeShardedBase(base, DType.BF16, 80_000);
    Path viaSpark = temp.resolve("spark");
    Path viaCore = temp.resolve("core");
    SparkRuns.run(
        spark,
        request(KNOTS_TIES, viaSpark, OutputFormat.BOTH, base.toString()),
        RunOptions.defaults());
    LocalRuns.run(
        request(KNOTS_TIES, viaCore, OutputFormat.BOTH, base.toString()), Fixtures.STORE, false);
    try (Stream<Path> files = Files.walk(viaCore)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        String relative = viaCore.relativize(file).toString();
        if (!relative.equals(MergeReport.FILE_NAME)) {
          assertSameFile(viaCore, viaSpark, relative);
        }
      }
    }
    assertTrue(Files.exists(viaSpark.resolve("model/model.safetensors.index.json")));
  }

  @Test
  void aTaskThatFailsOnceIsRetriedAndWritesTheSameBytes() throws IOException {
    Path clean = temp.resolve("clean");
    Path retried = temp.resolve("retried");
    SparkRuns.run(
        spark, request(KNOTS_TIES, clean, OutputFormat.ADAPTER, null), RunOptions.defaults());
    int injectedBefore = FirstAttemptFails.INJECTED.get();
    SparkRuns.run(
        spark,
        request(KNOTS_TIES, retried, OutputFormat.ADAPTER, null),
        RunOptions.defaults(),
        new FirstAttemptFails(new RoutingFileStore(spark.hadoopConfiguration()), 1));
    assertTrue(FirstAttemptFails.INJECTED.get() > injectedBefore, "a task failed and was retried");
    assertSameFile(clean, retried, LoraAdapter.WEIGHTS_FILE);
    assertSameFile(clean, retried, LoraAdapter.CONFIG_FILE);
  }

  /**
   * Points of one alignment in one run on Spark: aligned once, persisted, and each point writes the
   * bytes the single-process merge writes for it alone.
   */
  @Test
  void pointsSharingAnAlignmentWriteWhatTheCoreWritesForEach() throws IOException {
    List<MergeRequest> points = new ArrayList<>();
    List<Path> alone = new ArrayList<>();
    for (double topK : new double[] {20, 50}) {
      MergeRequest fixture =
          request(KNOTS_TIES, temp.resolve("spark-" + (int) topK), OutputFormat.ADAPTER, null);
      points.add(
          new MergeRequest(
              fixture.adapters(),
              fixture.method(),
              fixture.parameters().withTopK(topK),
              fixture.concat(),
              fixture.output(),
              fixture.format(),
              fixture.base()));
      alone.add(temp.resolve("core-" + (int) topK));
      LocalRuns.run(
          new MergeRequest(
              fixture.adapters(),
              fixture.method(),
              fixture.parameters().withTopK(topK),
              fixture.concat(),
              alone.get(alone.size() - 1).toString(),
              fixture.format(),
              fixture.base()),
          Fixtures.STORE,
          false);
    }
    AlignStages aligns = new AlignStages();
    spark.addSparkListener(aligns);
    try (SparkEngine engine = SparkEngine.start(spark)) {
      RecordedProgress progress = new RecordedProgress();
      new MergeRunner(engine, false)
          .run(LocalRuns.sharingInputs(points, Fixtures.STORE, PathOptions.defaults()), progress);
      assertEquals(Map.of(), progress.failures);
    } finally {
      spark.removeSparkListener(aligns);
    }
    assertEquals(1, aligns.count.get(), "one align job for both points");
    for (int i = 0; i < points.size(); i++) {
      assertSameFile(alone.get(i), Path.of(points.get(i).output()), LoraAdapter.WEIGHTS_FILE);
    }
  }

  /** Counts the align jobs, by the description the engine gives them. */
  private static final class AlignStages extends SparkListener {
    private final AtomicInteger count = new AtomicInteger();

    @Override
    public void onJobStart(SparkListenerJobStart job) {
      if (job.properties().getProperty("spark.job.description", "").startsWith("align ")) {
        count.incrementAndGet();
      }
    }
  }

  @Test
  void anExactlyCancellingEntryIsDecidedByTheMajoritySignAsInTheCore() throws IOException {
    // hflip and its negation cancel exactly wherever rot90 is pruned, so some entries are decided
    // by the global majority sign only: the job must vote on it as the core does.
    Path negated = negatedAdapter("hflip");
    List<String> adapters =
        List.of(
            Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip"), negated.toString());
    MergeRequest core = cancellingRequest(adapters, temp.resolve("core"));
    assertTrue(firstPassNeedsTheMajority(core), "the case exercises the majority vote");

    SparkRuns.run(spark, cancellingRequest(adapters, temp.resolve("spark")), RunOptions.defaults());
    LocalRuns.run(core, Fixtures.STORE, false);
    assertSameFile(
        temp.resolve("core"), temp.resolve("spark"), "adapter/" + LoraAdapter.WEIGHTS_FILE);
    assertSameFile(temp.resolve("core"), temp.resolve("spark"), "model/model.safetensors");
  }

  private static MergeRequest cancellingRequest(List<String> adapters, Path output) {
    return new MergeRequest(
        adapters,
        MergeMethods.byName("ties"),
        MergeParameters.defaults().withTopK(20),
        Concat.OUTPUT,
        output.toString(),
        OutputFormat.BOTH,
        Optional.of(Fixtures.path("base_model")));
  }

  /**
   * Whether some entry's pruned sum cancels exactly, so that the global majority sign (not 0)
   * decides it.
   */
  private static boolean firstPassNeedsTheMajority(MergeRequest request) throws IOException {
    AdapterSet set =
        AdapterSet.open(Fixtures.STORE, request.adapters(), LoraAdapter.UnsupportedTensors.REFUSE);
    MergePlan plan = Planner.plan(set, request.method(), request.concat());
    List<ModuleVectors> vectors = new ArrayList<>();
    for (ModulePlan module : plan.modules()) {
      AlignedModule aligned = ModuleAligner.align(module, request.concat(), Fixtures.STORE);
      vectors.add(new ModuleVectors(aligned.key(), aligned.representations()));
    }
    MergeStatistics statistics =
        MergeStatistics.compute(
            request.method(),
            request.parameters(),
            request.taskCount(),
            new InMemoryModuleScan(vectors));
    MergeStatistics pending = new MergeStatistics(statistics.thresholds(), 0);
    SignVote vote = SignVote.NONE;
    for (ModuleVectors module : vectors) {
      vote =
          vote.plus(
              ModuleMerge.merge(request.method(), request.parameters(), pending, module).vote());
    }
    return vote.needsMajority() && statistics.majoritySign() != 0;
  }

  /**
   * An update beyond float32's range fails the align task, on the factor and the distributed path,
   * and the job's error names the adapter and module, not the output; nothing is published.
   */
  @Test
  void anUpdateBeyondFloat32FailsTheJobNamingTheAdapterNotTheOutput() throws IOException {
    // lora_alpha 2.4e39 / r 8 = 3e38 is within float32; one lora_B entry of 1000 takes it beyond
    Path huge = temp.resolve("huge");
    Path source = Path.of(Fixtures.path("adapters/rot90"));
    Files.createDirectories(huge);
    Files.copy(source.resolve(LoraAdapter.WEIGHTS_FILE), huge.resolve(LoraAdapter.WEIGHTS_FILE));
    ObjectMapper json = new ObjectMapper();
    ObjectNode config =
        (ObjectNode) json.readTree(source.resolve(LoraAdapter.CONFIG_FILE).toFile());
    json.writeValue(
        huge.resolve(LoraAdapter.CONFIG_FILE).toFile(), config.put("lora_alpha", 2.4e39));
    Fixtures.setFloat32(
        huge.resolve(LoraAdapter.WEIGHTS_FILE),
        "base_model.model.layers.1.self_attn.v_proj.lora_B.weight",
        0,
        1000);
    for (RunOptions options : List.of(RunOptions.defaults(), forcedDistributed())) {
      Path out = temp.resolve("overflow-" + options.paths().forced().isPresent());
      MergeRequest request =
          new MergeRequest(
              List.of(huge.toString(), Fixtures.path("adapters/hflip")),
              MergeMethods.byName("knots-ties"),
              MergeParameters.defaults(),
              Concat.OUTPUT,
              out.toString(),
              OutputFormat.ADAPTER,
              Optional.empty());
      IOException e = assertThrows(IOException.class, () -> SparkRuns.run(spark, request, options));
      assertTrue(
          e.getMessage()
              .startsWith(
                  "Cannot use adapter "
                      + huge
                      + ": its update of module layers.1.self_attn.v_proj (LoRA scaling 3.0E38 x"
                      + " lora_B @ lora_A), aligned by KnOTS, is beyond float32's range"),
          e.getMessage());
      assertFalse(Files.exists(out), "nothing published");
    }
  }

  /** A copy of a fixture adapter with every lora_B negated: its update is exactly -dW. */
  private Path negatedAdapter(String task) throws IOException {
    Path source = Path.of(Fixtures.path("adapters/" + task));
    Path copy = temp.resolve(task + "-negated");
    Files.createDirectories(copy);
    Files.copy(source.resolve(LoraAdapter.CONFIG_FILE), copy.resolve(LoraAdapter.CONFIG_FILE));
    String weights = source.resolve(LoraAdapter.WEIGHTS_FILE).toString();
    SafetensorsHeader header = SafetensorsHeader.read(Fixtures.STORE.inputFile(weights));
    try (SafetensorsReader reader =
            new SafetensorsReader(Fixtures.STORE.inputFile(weights), header);
        SafetensorsWriter writer =
            SafetensorsWriter.open(
                Fixtures.STORE.outputFile(copy.resolve(LoraAdapter.WEIGHTS_FILE).toString()),
                header.tensors().stream().map(TensorSpec::of).toList(),
                Map.of())) {
      for (TensorInfo tensor : header.tensors()) {
        double[] values = reader.readDoubles(tensor.name());
        if (tensor.name().contains("lora_B")) {
          for (int j = 0; j < values.length; j++) {
            values[j] = -values[j];
          }
        }
        writer.write(tensor.name(), values);
      }
    }
    return copy;
  }

  @Test
  void anExistingOutputIsRefusedUnlessOverwrite() throws IOException {
    Path out = temp.resolve("existing");
    Files.createDirectories(out);
    Files.writeString(out.resolve("keep.txt"), "old");
    MergeRequest request = request(KNOTS_TIES, out, OutputFormat.ADAPTER, null);
    IOException e =
        assertThrows(IOException.class, () -> SparkRuns.run(spark, request, RunOptions.defaults()));
    assertTrue(
        e.getMessage().contains("already exists") && e.getMessage().contains("--overwrite"),
        e.getMessage());
    assertTrue(Files.exists(out.resolve("keep.txt")), "the old output is untouched");

    SparkRuns.run(spark, request, new RunOptions(true, LoraAdapter.UnsupportedTensors.REFUSE));
    assertFalse(Files.exists(out.resolve("keep.txt")), "replaced by the new merge");
    assertTrue(Files.exists(out.resolve(OutputCommit.SUCCESS)));
  }

  /**
   * Every KnOTS module forced onto the distributed path (MLlib's Gramian, here M M^T of 32 or 64
   * columns) reproduces the expected merge within the fixture tolerance (1e-4 relative per module;
   * the Gramian's error on these modules, eps cond^2 with cond <= 1e4, is below 1e-7) with exactly
   * the expected number of components per module.
   */
  @ParameterizedTest
  @ValueSource(strings = {KNOTS_TIES, "knots-ties_topk20_s0.6_concat-input.safetensors"})
  void forcedDistributedAlignmentReproducesTheExpectedMerge(String file) throws IOException {
    Path out = temp.resolve("distributed");
    RunOptions distributed = forcedDistributed();
    SparkRuns.run(spark, request(file, out, OutputFormat.ADAPTER, null), distributed);

    Map<String, Matrix> expected = Fixtures.matrices("expected/" + file);
    AdapterSet merged =
        AdapterSet.open(
            Fixtures.STORE, List.of(out.toString()), LoraAdapter.UnsupportedTensors.REFUSE);
    List<String> failures = new ArrayList<>();
    for (ModuleSpec module : merged.modules()) {
      Matrix update = module.source(0).orElseThrow().read(Fixtures.STORE).delta();
      String failure =
          Fixtures.compare(
              module.key(), update, expected.get("base_model.model." + module.key() + ".weight"));
      if (failure != null) {
        failures.add(failure);
      }
    }
    assertEquals(List.of(), failures);
    assertEquals(expected.size(), merged.modules().size());

    JsonNode report = new ObjectMapper().readTree(out.resolve(MergeReport.FILE_NAME).toFile());
    JsonNode components = Fixtures.config(file).at("/diagnostics/components_kept_per_module");
    assertEquals(12, components.size());
    for (JsonNode module : report.get("modules")) {
      String key = module.get("key").asText();
      assertEquals("distributed", module.get("path").asText(), key);
      assertEquals(
          components.get("base_model.model." + key).asInt(),
          module.get("components").asInt(),
          "components of " + key);
    }
  }

  /**
   * Full fine-tuned checkpoints (float64, base + each task's expected delta) forced onto the
   * distributed path: the dense sources' row reads feed MLlib, and the merged model reproduces the
   * adapters' expected knots-ties merge on the adapted weights (fixture tolerance, 1e-4; the
   * Gramian's error there is below 1e-7, see above) while every other tensor stays the base's, bit
   * for bit (their updates are zero, so no component survives the 1e-5 cut).
   */
  @Test
  void checkpointsForcedOntoTheDistributedPathReproduceTheExpectedMerge() throws IOException {
    List<String> checkpoints =
        Checkpoints.write(temp.resolve("ft"), Fixtures.path("base_model"), DType.F64);
    Path out = temp.resolve("distributed");
    RunOptions distributed = forcedDistributed();
    SparkRuns.run(
        spark,
        Checkpoints.request(
            KNOTS_TIES, checkpoints, Fixtures.path("base_model"), out.toString(), Optional.empty()),
        distributed);

    Map<String, Matrix> expected = Fixtures.matrices("expected/" + KNOTS_TIES);
    Map<String, double[]> base = Fixtures.arrays("base_model/model.safetensors");
    Map<String, double[]> model = Fixtures.arrays(out.resolve("model.safetensors").toString());
    List<String> failures = new ArrayList<>();
    for (Map.Entry<String, double[]> tensor : base.entrySet()) {
      Matrix want = expected.get("base_model.model." + tensor.getKey());
      double[] got = model.get(tensor.getKey());
      if (want == null) {
        assertArrayEquals(tensor.getValue(), got, tensor.getKey() + " is the base's");
        continue;
      }
      double[] update = new double[got.length];
      for (int j = 0; j < got.length; j++) {
        update[j] = got[j] - tensor.getValue()[j];
      }
      String failure =
          Fixtures.compare(
              tensor.getKey(), Matrix.fromRowMajor(want.rows, want.cols, update), want);
      if (failure != null) {
        failures.add(failure);
      }
    }
    assertEquals(List.of(), failures);
    JsonNode report = new ObjectMapper().readTree(out.resolve(MergeReport.FILE_NAME).toFile());
    assertEquals("distributed", report.at("/modules/0/path").asText());
  }

  /**
   * The tasks' closures carry the file store as a broadcast handle: no task deserializes the Hadoop
   * configuration (tens of kilobytes) on its own; an executor does once, and in local mode the
   * driver's copy serves them all. Every kind of task runs here: distributed alignment, the layer
   * tasks, the adapter's assembly and the model's shards.
   */
  @Test
  void tasksDoNotEachDeserializeTheHadoopConfiguration() throws IOException {
    Path base = temp.resolve("base");
    Fixtures.writeShardedBase(base, DType.BF16, 80_000);
    String configuration = "dev.knots.io.hadoop.SerializableConfiguration";
    long configurationsBefore = Deserializations.of(configuration);
    long layerTasksBefore = Deserializations.of(AlignLayer.class.getName());
    long storesBefore = Deserializations.of(BroadcastFileStore.class.getName());
    RunOptions distributed = forcedDistributed();
    SparkRuns.run(
        spark,
        request(KNOTS_TIES, temp.resolve("out"), OutputFormat.BOTH, base.toString()),
        distributed);

    long layerTasks = Deserializations.of(AlignLayer.class.getName()) - layerTasksBefore;
    long stores = Deserializations.of(BroadcastFileStore.class.getName()) - storesBefore;
    assertTrue(layerTasks >= 3, "the counter sees the layer tasks' closures: " + layerTasks);
    assertTrue(
        Deserializations.of(configuration) - configurationsBefore <= 1,
        "Hadoop configurations deserialized: "
            + (Deserializations.of(configuration) - configurationsBefore)
            + " for "
            + stores
            + " task closures");
    assertTrue(stores > layerTasks, "every kind of task gets the store: " + stores);
  }

  /**
   * Layer tasks zip in distributed modules through a shuffle by layer index; when no module takes
   * that path there is nothing to zip in, and the job runs no shuffle at all.
   */
  @Test
  void onlyDistributedModulesCostAShuffle() throws IOException, TimeoutException {
    ShuffleStages shuffles = new ShuffleStages();
    spark.addSparkListener(shuffles);
    try {
      SparkRuns.run(
          spark,
          request(KNOTS_TIES, temp.resolve("factor"), OutputFormat.ADAPTER, null),
          RunOptions.defaults());
      assertEquals(0, shuffles.since(), "shuffle stages without distributed modules");

      SparkRuns.run(
          spark,
          request(KNOTS_TIES, temp.resolve("distributed"), OutputFormat.ADAPTER, null),
          forcedDistributed());
      assertTrue(shuffles.since() > 0, "the listener sees the distributed path's shuffles");
    } finally {
      spark.removeSparkListener(shuffles);
    }
  }

  /** Counts completed shuffle map stages. */
  private static final class ShuffleStages extends SparkListener {
    private final AtomicInteger count = new AtomicInteger();

    @Override
    public void onStageCompleted(SparkListenerStageCompleted stage) {
      if (stage.stageInfo().shuffleDepId().isDefined()) {
        count.incrementAndGet();
      }
    }

    /** The stages counted since the last call, once every event so far has been delivered. */
    int since() throws TimeoutException {
      spark.listenerBus().waitUntilEmpty();
      return count.getAndSet(0);
    }
  }

  /**
   * What a task's closure holds of the store is the broadcast's handle: about a kilobyte (mostly
   * class descriptors) where the store itself, with its Hadoop configuration, is tens of kilobytes.
   * A copy resolves the broadcast; the driver's instance still works once the broadcast is
   * destroyed.
   */
  @Test
  void aBroadcastStoreShipsAsAHandle() throws Exception {
    RoutingFileStore routing = new RoutingFileStore(spark.hadoopConfiguration());
    BroadcastFileStore shipped =
        BroadcastFileStore.of(JavaSparkContext.fromSparkContext(spark), routing);
    byte[] handle = javaSerialized(shipped);
    int whole = javaSerialized(routing).length;
    assertTrue(handle.length < 2048, "the handle: " + handle.length + " bytes");
    assertTrue(whole > 10 * handle.length, "the store itself: " + whole + " bytes");

    Path file = temp.resolve("x.txt");
    Files.writeString(file, "abc");
    FileStore copy;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(handle))) {
      copy = (FileStore) in.readObject();
    }
    assertEquals(List.of("x.txt"), copy.list(temp.toString()));
    shipped.destroy();
    assertTrue(shipped.exists(file.toString()), "the driver's instance outlives the broadcast");
  }

  private static byte[] javaSerialized(Object value) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(value);
    }
    return bytes.toByteArray();
  }

  /** Default options, with every KnOTS module forced onto the distributed path. */
  private static RunOptions forcedDistributed() {
    return new RunOptions(
        false,
        LoraAdapter.UnsupportedTensors.REFUSE,
        new PathRequest(
            Optional.of(AlignPath.DISTRIBUTED), OptionalLong.empty(), OptionalLong.empty()));
  }

  private List<Path> stagingLeftovers() throws IOException {
    try (Stream<Path> files = Files.list(temp)) {
      return files.filter(p -> p.getFileName().toString().contains("knots-staging")).toList();
    }
  }

  private static void assertSameFile(Path expected, Path actual, String relative)
      throws IOException {
    assertArrayEquals(
        Files.readAllBytes(expected.resolve(relative)),
        Files.readAllBytes(actual.resolve(relative)),
        relative + " differs");
  }
}
