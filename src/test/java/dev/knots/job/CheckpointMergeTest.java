package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.knots.Checkpoints;
import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.FloatConversions;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AlignPath;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.MergePlan;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full fine-tuned checkpoints (the fixture base plus each task's update, saved in float64) merged
 * by the local core must reproduce the adapter merges of the fixture set: {@code finetuned - base}
 * recovers each update to float64 round-off (about 1e-16 relative), far inside the fixture
 * tolerance of 1e-4, and every weight the adapters do not touch has an exactly zero update.
 */
class CheckpointMergeTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";
  private static final String TIES = "ties_topk20_s0.3.safetensors";
  private static final String PREFIX = "base_model.model.";

  @TempDir static Path temp;
  private static List<String> checkpoints;
  private static String base;

  @BeforeAll
  static void writeCheckpoints() throws IOException {
    base = Fixtures.path("base_model");
    checkpoints = Checkpoints.write(temp.resolve("f64"), base, DType.F64);
  }

  private static List<MergedModule> merge(MergeRequest request, MergePlan plan) throws IOException {
    return LocalRuns.merge(request, plan, Fixtures.STORE);
  }

  private static MergePlan plan(MergeRequest request) throws IOException {
    MergeInputs inputs = request.openInputs(Fixtures.STORE, LoraAdapter.UnsupportedTensors.REFUSE);
    return Planner.plan(inputs, request.method(), request.concat());
  }

  /** Every module's merged update against the expected file, plus the diagnostics. */
  private static void assertReproduces(String file, List<MergedModule> merged) {
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + file);
    List<String> failures = new ArrayList<>();
    int compared = 0;
    for (MergedModule module : merged) {
      Matrix want = expected.get(PREFIX + module.key() + ".weight");
      if (want == null) {
        assertTrue(module.isZero(), module.key() + " has no update in any task but changed");
        continue;
      }
      String failure = Fixtures.compare(module.key(), module.update(), want);
      if (failure != null) {
        failures.add(failure);
      }
      compared++;
    }
    assertEquals(List.of(), failures, file);
    assertEquals(expected.size(), compared, "adapted modules compared");
    JsonNode diagnostics = Fixtures.config(file).get("diagnostics");
    MergeResult result = new MergeResult(merged.stream().map(ModuleOutcome::of).toList());
    long[] kept = new long[Fixtures.TASKS.length];
    for (int i = 0; i < kept.length; i++) {
      kept[i] = diagnostics.get("kept_per_task").get(i).asLong();
    }
    assertArrayEquals(kept, result.usedPerTask(), "entries kept per task");
  }

  @Test
  void knotsTiesOfFloat64CheckpointsReproducesTheAdapterMerge() throws IOException {
    MergeRequest request =
        Checkpoints.request(KNOTS_TIES, checkpoints, base, "unused", Optional.empty());
    MergePlan plan = plan(request);
    assertTrue(plan.modules().stream().allMatch(m -> m.path() == AlignPath.DENSE), "all dense");
    List<MergedModule> merged = merge(request, plan);
    assertReproduces(KNOTS_TIES, merged);

    // A zero update (mlp, embeddings) keeps no KnOTS component, so it adds nothing to the global
    // top-K vector: that is why the counts above match the adapter merge exactly.
    Map<String, Integer> components = new HashMap<>();
    merged.forEach(m -> components.put(m.key(), m.components()));
    Fixtures.config(KNOTS_TIES)
        .get("diagnostics")
        .get("components_kept_per_module")
        .fields()
        .forEachRemaining(
            e ->
                assertEquals(
                    e.getValue().asInt(),
                    components.remove(e.getKey().substring(PREFIX.length())),
                    e.getKey()));
    components.forEach((key, k) -> assertEquals(0, k, key + " has a zero update"));
    assertTrue(components.containsKey("embed_tokens"), "embeddings are modules too");
  }

  /**
   * The written model: every tensor outside the adapted modules is bit-equal to the base (norms are
   * merged entry-wise, but their updates are zero); adapted weights are {@code W + dW} in the
   * base's float32, whose rounding (half an ulp of |W|, about 3e-8 relative to W) stays far below
   * the 1e-4 tolerance relative to dW.
   */
  @Test
  void theMergedModelIsTheBasePlusTheMergedUpdate() throws IOException {
    Path out = temp.resolve("knots-ties-model");
    LocalRuns.run(
        Checkpoints.request(KNOTS_TIES, checkpoints, base, out.toString(), Optional.empty()),
        Fixtures.STORE,
        false);
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + KNOTS_TIES);
    HfModelFiles baseModel = HfModelFiles.open(Fixtures.STORE, base);
    HfModelFiles merged = HfModelFiles.open(Fixtures.STORE, out.toString());
    assertEquals(baseModel.layout(), merged.layout(), "same tensors, order, dtypes and shards");
    List<String> failures = new ArrayList<>();
    for (TensorInfo tensor : baseModel.shards().get(0).header().tensors()) {
      Matrix update = expected.get(PREFIX + tensor.name());
      if (update == null) {
        assertArrayEquals(raw(baseModel, tensor.name()), raw(merged, tensor.name()), tensor.name());
        continue;
      }
      Matrix got =
          Matrix.fromRowMajor(tensor.rows(), tensor.cols(), doubles(merged, tensor.name()))
              .minus(
                  Matrix.fromRowMajor(
                      tensor.rows(), tensor.cols(), doubles(baseModel, tensor.name())));
      String failure = Fixtures.compare(tensor.name(), got, update);
      if (failure != null) {
        failures.add(failure);
      }
    }
    assertEquals(List.of(), failures);
  }

  /**
   * Plain methods merge the raw updates, where a zero update still adds its entries (zeros) to the
   * global top-K vector and moves each task's threshold; excluding the unadapted weights gives the
   * adapter merge back.
   */
  @Test
  void tiesReproducesTheAdapterMergeWhenUnadaptedWeightsAreExcluded() throws IOException {
    MergeRequest request =
        Checkpoints.request(TIES, checkpoints, base, "unused", Optional.of("mlp|embed_tokens"));
    MergePlan plan = plan(request);
    assertTrue(plan.modules().stream().allMatch(m -> m.path() == AlignPath.NONE), "all plain");
    assertReproduces(TIES, merge(request, plan));

    MergeRequest all = Checkpoints.request(TIES, checkpoints, base, "unused", Optional.empty());
    long[] withZeros =
        new MergeResult(merge(all, plan(all)).stream().map(ModuleOutcome::of).toList())
            .usedPerTask();
    assertNotEquals(
        Fixtures.config(TIES).get("diagnostics").get("kept_per_task").get(0).asLong(),
        withZeros[0],
        "without --exclude the zero updates change the top-K");
  }

  /**
   * bf16 checkpoints of a bf16 base (as a real bf16 fine-tune is; against a float32 base, the bf16
   * rounding of every weight would appear as an update). The merge must equal, to the bit, the same
   * merge of float64 copies of the same values: widening bf16 to float64 is exact, so both see
   * identical deltas, and the bf16 output must be the bf16 rounding of the float64 output, in the
   * base's bf16 dtype and shard layout.
   */
  @Test
  void bf16CheckpointsMergeExactlyLikeTheirFloat64Values() throws IOException {
    Path bf16Base = temp.resolve("bf16-base");
    Fixtures.writeShardedBase(bf16Base, DType.BF16, 80_000);
    List<String> bf16 = Checkpoints.write(temp.resolve("bf16"), bf16Base.toString(), DType.BF16);
    Path wideBase = temp.resolve("wide-base");
    HfModelFiles bf16Model = HfModelFiles.open(Fixtures.STORE, bf16Base.toString());
    Checkpoints.writeModel(wideBase, bf16Model, DType.F64, Map.of());
    List<String> wide = new ArrayList<>();
    for (String checkpoint : bf16) {
      Path copy = temp.resolve("wide-" + Path.of(checkpoint).getFileName());
      Checkpoints.writeModel(
          copy, HfModelFiles.open(Fixtures.STORE, checkpoint), DType.F64, Map.of());
      wide.add(copy.toString());
    }
    Path bf16Out = temp.resolve("bf16-out");
    Path wideOut = temp.resolve("wide-out");
    LocalRuns.run(
        Checkpoints.request(
            KNOTS_TIES, bf16, bf16Base.toString(), bf16Out.toString(), Optional.empty()),
        Fixtures.STORE,
        false);
    LocalRuns.run(
        Checkpoints.request(
            KNOTS_TIES, wide, wideBase.toString(), wideOut.toString(), Optional.empty()),
        Fixtures.STORE,
        false);

    HfModelFiles merged = HfModelFiles.open(Fixtures.STORE, bf16Out.toString());
    HfModelFiles reference = HfModelFiles.open(Fixtures.STORE, wideOut.toString());
    assertEquals(bf16Model.layout(), merged.layout(), "the base's bf16 dtype and shard layout");
    int changed = 0;
    for (String name : bf16Model.tensors().keySet()) {
      double[] got = doubles(merged, name);
      double[] want = doubles(reference, name);
      for (int i = 0; i < got.length; i++) {
        double rounded =
            FloatConversions.bfloat16ToFloat(FloatConversions.doubleToBFloat16(want[i]));
        assertEquals(rounded, got[i], 0.0, name + "[" + i + "]");
      }
      if (!java.util.Arrays.equals(raw(bf16Model, name), raw(merged, name))) {
        changed++;
      }
    }
    assertEquals(12, changed, "the 12 adapted attention weights change");
  }

  /**
   * Norm scales are merged entry-wise by the plain counterpart: with knots-ta at top-K 100 that is
   * {@code W + lambda * sum_i delta_i} per entry, written in the base's float32 (so within one
   * float32 ulp of the float64 value computed here from the values the checkpoints store).
   */
  @Test
  void normScalesAreMergedEntryWiseByThePlainCounterpart() throws IOException {
    String file = "knots-ta_s0.5.safetensors";
    List<String> changed = Checkpoints.writeWithNormChanges(temp.resolve("norms"), base, DType.F64);
    Path out = temp.resolve("norms-out");
    LocalRuns.run(
        Checkpoints.request(file, changed, base, out.toString(), Optional.empty()),
        Fixtures.STORE,
        false);
    HfModelFiles baseModel = HfModelFiles.open(Fixtures.STORE, base);
    HfModelFiles merged = HfModelFiles.open(Fixtures.STORE, out.toString());
    double lambda = Fixtures.config(file).get("scaling").get(0).asDouble();
    int norms = 0;
    for (String name : baseModel.tensors().keySet()) {
      if (baseModel.require(name).info().rank() != 1) {
        continue;
      }
      double[] w = doubles(baseModel, name);
      double[] got = doubles(merged, name);
      for (int i = 0; i < w.length; i++) {
        double sum = 0;
        for (int t = 0; t < Fixtures.TASKS.length; t++) {
          sum += lambda * Checkpoints.normChange(t, i);
        }
        float want = (float) (w[i] + sum);
        assertEquals(want, got[i], Math.ulp(want), name + "[" + i + "]");
      }
      norms++;
    }
    assertEquals(7, norms);
  }

  private static byte[] raw(HfModelFiles model, String name) throws IOException {
    try (SafetensorsReader reader = model.openReader(model.require(name).shard())) {
      return reader.readRaw(name);
    }
  }

  private static double[] doubles(HfModelFiles model, String name) throws IOException {
    try (SafetensorsReader reader = model.openReader(model.require(name).shard())) {
      return reader.readDoubles(name);
    }
  }
}
