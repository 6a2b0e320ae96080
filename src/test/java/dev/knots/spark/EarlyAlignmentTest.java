package dev.knots.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.AlignPath;
import dev.knots.plan.LayerPlan;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registry of layers aligned while Spark starts, without Spark: which layers a task gets, and
 * that a layer whose alignment failed early is left for its task, which meets the failure itself.
 */
class EarlyAlignmentTest {
  @TempDir Path temp;

  private MergePlan plan(List<String> adapters) throws IOException {
    MergeRequest request =
        new MergeRequest(
            adapters,
            MergeMethods.byName("knots-ties"),
            MergeParameters.defaults().withTopK(20),
            Concat.OUTPUT,
            temp.resolve("out").toString(),
            OutputFormat.ADAPTER,
            Optional.empty());
    return Planner.plan(
        request.openInputs(Fixtures.STORE, LoraAdapter.UnsupportedTensors.REFUSE),
        request.method(),
        request.concat());
  }

  private static EarlyAlignment open() {
    return EarlyAlignment.open(
        MergeMethods.byName("knots-ties"), MergeParameters.defaults().withTopK(20), Concat.OUTPUT);
  }

  @Test
  void aTaskTakesItsLayerOnceAndOnlyForTheSamePlan() throws IOException {
    MergePlan plan =
        plan(List.of(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip")));
    try (EarlyAlignment early = open()) {
      early.alignUntilStopped(plan, Fixtures.STORE, Long.MAX_VALUE);
      assertEquals(plan.layers().size(), early.layersAligned());

      LayerPlan first = plan.layers().get(0);
      List<ModulePlan> otherPaths =
          first.modules().stream()
              .map(m -> new ModulePlan(m.spec(), AlignPath.DENSE, "test"))
              .toList();
      LayerPlan replanned = new LayerPlan(first.index(), first.name(), otherPaths);
      assertFalse(
          EarlyAlignment.take(early.token(), replanned).isPresent(),
          "a layer aligned for other paths is not the task's");
      LayerPlan second = plan.layers().get(1);
      assertTrue(EarlyAlignment.take(early.token(), second).isPresent());
      assertFalse(EarlyAlignment.take(early.token(), second).isPresent(), "taken once");
      assertEquals(1, early.layersTaken());
      assertTrue(early.bytesTaken() > 0, "the reads of the layer taken are counted");
      assertFalse(EarlyAlignment.take("another job", plan.layers().get(2)).isPresent());
    }
  }

  @Test
  void aLayerThatFailsEarlyIsLeftToItsTaskAndStopsTheRest() throws IOException {
    Path broken = Files.createDirectories(temp.resolve("broken"));
    for (String file : new String[] {"adapter_config.json", "adapter_model.safetensors"}) {
      Files.copy(Path.of(Fixtures.path("adapters/hflip/" + file)), broken.resolve(file));
    }
    Fixtures.setFloat32(
        broken.resolve("adapter_model.safetensors"),
        "base_model.model.layers.1.self_attn.o_proj.lora_A.weight",
        3,
        Double.NaN);
    MergePlan plan = plan(List.of(Fixtures.path("adapters/rot90"), broken.toString()));
    try (EarlyAlignment early = open()) {
      early.alignUntilStopped(plan, Fixtures.STORE, Long.MAX_VALUE);
      assertEquals(1, early.layersAligned(), "layer 0, then the failure at layer 1 stops it");
      assertFalse(EarlyAlignment.take(early.token(), plan.layers().get(1)).isPresent());
      assertFalse(EarlyAlignment.take(early.token(), plan.layers().get(2)).isPresent());
      assertTrue(EarlyAlignment.take(early.token(), plan.layers().get(0)).isPresent());
    }
  }

  @Test
  void itStopsOnceTheLayersAlignedHoldTheBudget() throws IOException {
    MergePlan plan =
        plan(List.of(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip")));
    try (EarlyAlignment early = open()) {
      early.alignUntilStopped(plan, Fixtures.STORE, 1);
      assertEquals(1, early.layersAligned(), "the layer that reaches the budget is the last");
    }
  }

  @Test
  void closingDropsWhatNoTaskTook() throws IOException {
    MergePlan plan =
        plan(List.of(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip")));
    EarlyAlignment early = open();
    early.alignUntilStopped(plan, Fixtures.STORE, Long.MAX_VALUE);
    early.close();
    assertEquals(0, early.layersAligned());
    assertFalse(EarlyAlignment.take(early.token(), plan.layers().get(0)).isPresent());
  }
}
