package dev.knots.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.knots.Concat;
import dev.knots.knots.TaskUpdate;
import dev.knots.linalg.Matrix;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeMethods;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every path decision, every limit with its message, and the dry-run text, from shapes alone. */
class PlannerTest {
  private static final MergeMethod KNOTS = MergeMethods.byName("knots-ties");
  private static final long GIB = 1L << 30;
  private static final long MIB = 1L << 20;

  /** Shapes and ranks only: the planner must never read a tensor. */
  record ShapeOnly(int rank, boolean factored) implements UpdateSource {
    @Override
    public String origin() {
      return "s3a://bucket/task";
    }

    @Override
    public long byteLength() {
      return 0;
    }

    @Override
    public TaskUpdate read(FileStore store) {
      throw new AssertionError("the planner read a tensor");
    }

    @Override
    public Matrix readRows(FileStore store, int first, int count) {
      throw new AssertionError("the planner read a tensor");
    }
  }

  private static ModuleSpec module(int out, int in, int tasks, int rank, boolean factored) {
    List<UpdateSource> sources = new ArrayList<>();
    for (int i = 0; i < tasks; i++) {
      sources.add(new ShapeOnly(rank, factored));
    }
    return new ModuleSpec("layers.3.mlp.down_proj", out, in, sources);
  }

  private static PathOptions budgets(Optional<AlignPath> forced, long task, long driver) {
    return new PathRequest(forced, OptionalLong.of(task), OptionalLong.of(driver))
        .resolve(Map.of());
  }

  private static ModulePlan decide(ModuleSpec spec, Concat concat, PathOptions options) {
    return Planner.decide("model.layers.3", spec, KNOTS, concat, options);
  }

  private static AdapterSet twoFixtureAdapters() throws IOException {
    return AdapterSet.open(
        Fixtures.STORE,
        List.of(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip")),
        LoraAdapter.UnsupportedTensors.REFUSE);
  }

  private static PathOptions auto(long task, long driver) {
    return budgets(Optional.empty(), task, driver);
  }

  @Test
  void loraFactorsThatFitTakeTheFactorPath() throws IOException {
    AdapterSet set = twoFixtureAdapters();
    MergePlan plan = Planner.plan(set, KNOTS, Concat.OUTPUT, auto(GIB, GIB));
    assertTrue(plan.modules().stream().allMatch(m -> m.path() == AlignPath.FACTOR));
    assertEquals(
        AlignPath.NONE,
        Planner.plan(set, MergeMethods.byName("ties"), Concat.OUTPUT, auto(GIB, GIB))
            .modules()
            .get(0)
            .path(),
        "plain methods need no alignment");
  }

  @Test
  void aPlainMethodsLayerIsCountedWithEveryModulesDenseUpdates() {
    // 3 tasks: per module 3 float32 updates and the float64 merge; one float64 update being formed
    ModuleSpec big = module(64, 32, 3, 4, true);
    ModuleSpec small = module(16, 32, 3, 4, true);
    long expected = 64 * 32 * (3 * 4 + 8) + 16 * 32 * (3 * 4 + 8) + 64 * 32 * 8;
    assertEquals(expected, PathCosts.plainLayer(List.of(big, small)));
  }

  @Test
  void aPlainMethodsLayerOverTheTaskBudgetIsRefusedNamingWhatToChange() {
    List<ModulePlan> layer =
        List.of(
            new ModulePlan(module(64, 32, 3, 4, true), AlignPath.NONE, "ties"),
            new ModulePlan(module(16, 32, 3, 4, true), AlignPath.NONE, "ties"));
    long needed = PathCosts.plainLayer(layer.stream().map(ModulePlan::spec).toList());
    MergeMethod ties = MergeMethods.byName("ties");
    Planner.requirePlainLayerFits(
        "model.layers.3", layer, ties, auto(needed, GIB).task()); // exactly fits
    PlanningException refused =
        assertThrows(
            PlanningException.class,
            () ->
                Planner.requirePlainLayerFits(
                    "model.layers.3", layer, ties, auto(needed - 1, GIB).task()));
    assertTrue(
        refused.getMessage().startsWith("Cannot merge layer model.layers.3 with ties:")
            && refused.getMessage().contains("the layer's 2 modules for all 3 inputs")
            && refused.getMessage().contains("is 64 x 32")
            && refused.getMessage().contains("--task-memory")
            && refused.getMessage().contains("merge with knots-ties"),
        refused.getMessage());

    // Dense inputs (full checkpoints) form dense updates with KnOTS too: no such advice.
    List<ModulePlan> dense =
        List.of(new ModulePlan(module(64, 32, 3, 64, false), AlignPath.NONE, "ties"));
    PlanningException denseRefused =
        assertThrows(
            PlanningException.class,
            () ->
                Planner.requirePlainLayerFits("model.layers.3", dense, ties, auto(1, GIB).task()));
    assertTrue(!denseRefused.getMessage().contains("knots-"), denseRefused.getMessage());
  }

  @Test
  void planningAPlainMergeChecksEachLayerAgainstTheTaskBudget() throws IOException {
    AdapterSet set = twoFixtureAdapters();
    PlanningException e =
        assertThrows(
            PlanningException.class,
            () -> Planner.plan(set, MergeMethods.byName("ties"), Concat.OUTPUT, auto(1024, GIB)));
    assertTrue(e.getMessage().contains("over the task budget 1.0 KiB"), e.getMessage());
    // With a budget that holds the layer, the same plain merge is planned.
    assertTrue(
        Planner.plan(set, MergeMethods.byName("ties"), Concat.OUTPUT, auto(GIB, GIB)).moduleCount()
            > 0);
  }

  @Test
  void factorsWhoseCoreIsTooLargeTakeTheDensePath() {
    // 8 tasks of rank 64 on 64 x 64: the 512 x 512 core outweighs the stacked 64 x 512 matrix
    ModuleSpec spec = module(64, 64, 8, 64, true);
    PathCosts costs = PathCosts.of(spec, Concat.OUTPUT);
    assertTrue(costs.factor() > 4 * MIB && costs.dense() < 4 * MIB, costs.toString());
    ModulePlan plan = decide(spec, Concat.OUTPUT, auto(4 * MIB, GIB));
    assertEquals(AlignPath.DENSE, plan.path(), plan.reason());
    assertTrue(plan.reason().contains("the factor path would need"), plan.reason());
  }

  @Test
  void denseUpdatesTakeTheDensePathFirst() {
    ModulePlan plan = decide(module(64, 64, 8, 64, false), Concat.OUTPUT, auto(GIB, GIB));
    assertEquals(AlignPath.DENSE, plan.path());
    assertTrue(plan.reason().startsWith("dense SVD of the stacked 64 x 512 matrix"), plan.reason());
  }

  @Test
  void aModuleTooLargeForOneTaskIsDistributed() {
    // 8 dense 4096 x 4096 updates: the dense path needs about 4.6 GiB, a distributed task 1.2 GiB,
    // the
    // driver 0.75 GiB
    ModulePlan plan = decide(module(4096, 4096, 8, 4096, false), Concat.OUTPUT, auto(2 * GIB, GIB));
    assertEquals(AlignPath.DISTRIBUTED, plan.path(), plan.reason());
    assertTrue(
        plan.reason()
            .startsWith("MLlib SVD of the 4096 x 4096 Gramian (M M^T, eigenvectors U, local-svd)"),
        plan.reason());
    assertTrue(plan.reason().contains("over the task budget 2.0 GiB"), plan.reason());
  }

  @Test
  void theGramianGoesOnTheSmallerSide() {
    // 3 tasks of 50000 x 1000, concat output: M is 50000 x 3000, so the Gramian is M^T M
    PathCosts costs = PathCosts.of(module(50000, 1000, 3, 1000, false), Concat.OUTPUT);
    assertEquals(3000, costs.smallerSide());
    assertTrue(!costs.gramianGivesU());
    assertTrue(PathCosts.of(module(50000, 1000, 3, 1000, false), Concat.INPUT).gramianGivesU());
  }

  @Test
  void aReadHoldsAboutOneBlockWhateverTheOrientation() {
    ModuleSpec tall = module(100_000, 100, 32, 100, false);
    // INPUT: a read is rows of one task's update, 100 entries each
    assertEquals(PathCosts.BLOCK_VALUES / 100, PathCosts.rowsPerRead(tall, Concat.INPUT));
    // OUTPUT, Gramian M^T M: a row of M is that row of all 32 updates, 3200 entries
    assertEquals(PathCosts.BLOCK_VALUES / 3200, PathCosts.rowsPerRead(tall, Concat.OUTPUT));
    assertEquals(1, PathCosts.rowsPerRead(module(10, 1 << 23, 1, 1, false), Concat.OUTPUT));
  }

  @Test
  void aForcedPathIsTaken() {
    ModuleSpec lora = module(64, 64, 2, 8, true);
    for (AlignPath path : List.of(AlignPath.FACTOR, AlignPath.DENSE, AlignPath.DISTRIBUTED)) {
      ModulePlan plan = decide(lora, Concat.OUTPUT, budgets(Optional.of(path), GIB, GIB));
      assertEquals(path, plan.path());
      assertTrue(plan.reason().startsWith("forced by --align-path " + path.label()), plan.reason());
    }
  }

  @Test
  void forcingTheFactorPathOnDenseUpdatesNamesTheModule() {
    PlanningException e =
        assertThrows(
            PlanningException.class,
            () ->
                decide(
                    module(64, 64, 2, 64, false),
                    Concat.OUTPUT,
                    budgets(Optional.of(AlignPath.FACTOR), GIB, GIB)));
    assertEquals(
        "Cannot align module layers.3.mlp.down_proj of layer model.layers.3 (64 x 64, 2 adapters,"
            + " concat output): --align-path factor needs LoRA factors, but task 0's update"
            + " (s3a://bucket/task) is a dense weight difference. Use --align-path auto or dense.",
        e.getMessage());
  }

  @Test
  void moreThan65535ColumnsOnBothSidesIsRefusedWithMllibsLimit() {
    // 8 tasks of 70000 x 10000: M is 70000 x 80000
    PlanningException e =
        assertThrows(
            PlanningException.class,
            () ->
                decide(
                    module(70000, 10000, 8, 10000, false),
                    Concat.OUTPUT,
                    auto(8 * GIB, 1024 * GIB)));
    assertTrue(
        e.getMessage()
            .contains(
                "the smaller side of the stacked 70000 x 80000 matrix has 70000 columns; MLlib's"
                    + " Gramian is limited to 65535."),
        e.getMessage());
    assertTrue(e.getMessage().contains("layers.3.mlp.down_proj of layer model.layers.3"));
    assertTrue(e.getMessage().contains("--concat"), e.getMessage());
  }

  @Test
  void pastLocalSvdsLimitTheGramianGoesToDsyevd() {
    // c = 20000 >= 17515: local-svd cannot, the ARPACK modes cannot return all components
    ModulePlan plan =
        decide(module(20000, 20000, 2, 20000, false), Concat.OUTPUT, auto(16 * GIB, 64 * GIB));
    assertEquals(AlignPath.DISTRIBUTED, plan.path());
    assertTrue(plan.reason().contains("Gramian + LAPACK dsyevd"), plan.reason());

    PlanningException e =
        assertThrows(
            PlanningException.class,
            () ->
                decide(
                    module(40000, 40000, 2, 40000, false),
                    Concat.OUTPUT,
                    auto(64 * GIB, 1024 * GIB)));
    assertTrue(
        e.getMessage().contains("40000 columns; past MLlib's local-svd limit of 17514"),
        e.getMessage());
    assertTrue(e.getMessage().contains("limited to 32766 columns"), e.getMessage());
  }

  @Test
  void aGramianOverTheDriverBudgetIsRefusedNamingTheOption() {
    PlanningException e =
        assertThrows(
            PlanningException.class,
            () ->
                decide(
                    module(4096, 4096, 8, 4096, false), Concat.OUTPUT, auto(2 * GIB, 512 * MIB)));
    assertTrue(
        e.getMessage()
            .contains(
                "the distributed path holds the 4096 x 4096 Gramian and its decomposition on the"
                    + " driver, 768.0 MiB, over the driver budget 512.0 MiB (--driver-memory-budget"
                    + " 512.0 MiB). Raise --driver-memory-budget together with"
                    + " spark.driver.memory."),
        e.getMessage());
    assertTrue(e.getMessage().contains("the dense path needs"), e.getMessage());
  }

  @Test
  void aModuleWhoseRepresentationsExceedATaskIsRefusedNamingTheOption() {
    PlanningException e =
        assertThrows(
            PlanningException.class,
            () ->
                decide(
                    module(4096, 4096, 8, 4096, false), Concat.OUTPUT, auto(512 * MIB, 4 * GIB)));
    assertTrue(e.getMessage().contains("Raise --task-memory"), e.getMessage());
  }

  @Test
  void defaultBudgetsComeFromTheSparkConfiguration() {
    PathOptions options =
        PathRequest.auto()
            .resolve(
                Map.of(
                    "spark.executor.memory", "8g",
                    "spark.executor.cores", "4",
                    "spark.driver.memory", "4096"));
    assertEquals((long) (8 * GIB * 0.6 / 4), options.task().bytes());
    assertEquals((long) (4 * GIB * 0.6), options.driver().bytes(), "bare numbers are MiB");
    assertTrue(
        options.task().origin().contains("60% of spark.executor.memory 8g over 4 cores"),
        options.task().origin());
    assertEquals((long) (GIB * 0.6), PathOptions.defaults().task().bytes(), "Spark's 1g");
  }

  @Test
  void underALocalMasterATasksDefaultShareIsOfTheDriversHeap() {
    PathOptions local =
        PathRequest.auto()
            .resolve(
                Map.of(
                    "spark.master", "local[4]",
                    "spark.executor.memory", "8g",
                    "spark.driver.memory", "6g"));
    assertEquals((long) (6 * GIB * 0.6 / 4), local.task().bytes());
    assertTrue(
        local
            .task()
            .origin()
            .contains("60% of spark.driver.memory 6g over 4 task slots of local[4]"),
        local.task().origin());
    assertEquals((long) (6 * GIB * 0.6), local.driver().bytes());
    // Executor JVMs of their own: the executors' memory, as on a cluster.
    PathOptions cluster =
        PathRequest.auto()
            .resolve(
                Map.of(
                    "spark.master", "local-cluster[2,1,2048]",
                    "spark.executor.memory", "2g",
                    "spark.driver.memory", "6g"));
    assertEquals((long) (2 * GIB * 0.6), cluster.task().bytes());
  }

  @ParameterizedTest
  @CsvSource({
    "local, 1",
    "local[3], 3",
    "'local[2,4]', 2",
    "local[0], 1",
    "local[99999999999], 0",
    "' local[8] ', 8",
    "spark://host:7077, 0",
    "yarn, 0",
    "'local-cluster[2,1,1024]', 0",
    "localhost, 0"
  })
  void localMastersHaveTaskSlots(String master, int slots) {
    assertEquals(
        slots == 0 ? OptionalInt.empty() : OptionalInt.of(slots),
        PathRequest.localTaskSlots(master),
        master);
  }

  @Test
  void localStarHasOneSlotPerProcessor() {
    assertEquals(
        OptionalInt.of(Runtime.getRuntime().availableProcessors()),
        PathRequest.localTaskSlots("local[*]"));
    assertEquals(OptionalInt.empty(), PathRequest.localTaskSlots(null));
  }

  @Test
  void sizesAndPathsParse() {
    assertEquals(1536 * MIB, Budget.parse("1.5g", 1));
    assertEquals(512 * MIB, Budget.parse("512MiB", 1));
    assertEquals(100, Budget.parse("100", 1));
    assertThrows(IllegalArgumentException.class, () -> Budget.parse("lots", 1));
    assertEquals(Optional.empty(), AlignPath.parseOption("auto"));
    assertEquals(Optional.of(AlignPath.DISTRIBUTED), AlignPath.parseOption("Distributed"));
    assertThrows(InvalidOptionException.class, () -> AlignPath.parseOption("none"));
  }

  @Test
  void theDryRunTextGivesEachLayersChoiceReasonAndEstimates() {
    PathOptions options = auto(2 * GIB, GIB);
    ModulePlan big = decide(module(4096, 4096, 8, 4096, false), Concat.OUTPUT, options);
    ModulePlan small = decide(module(64, 64, 8, 64, false), Concat.OUTPUT, options);
    MergePlan plan =
        new MergePlan(
            "knots-ties",
            "adapter",
            List.of("a", "b", "c", "d", "e", "f", "g", "h"),
            "output",
            List.of(new LayerPlan(0, "model.layers.3", List.of(small, big))),
            options);
    String text = plan.describe();
    assertTrue(
        text.contains(
            "Alignment paths: auto; budgets: task 2.0 GiB (--task-memory 2.0 GiB), driver 1.0 GiB"
                + " (--driver-memory-budget 1.0 GiB)"),
        text);
    assertTrue(
        text.contains("task 0: model.layers.3 (2 modules, reads 0 B; 1 dense, 1 distributed)"),
        text);
    assertTrue(
        text.contains(
            "DISTRIBUTED: MLlib SVD of the 4096 x 4096 Gramian (M M^T, eigenvectors U, local-svd)"
                + " on the driver, 768.0 MiB of the driver budget 1.0 GiB"),
        text);
    assertTrue(text.contains("DENSE: dense SVD of the stacked 64 x 512 matrix"), text);
  }
}
