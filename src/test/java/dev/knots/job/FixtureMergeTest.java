package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.AlignPath;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every expected output of the fixture set, reproduced by the merge core within the fixtures'
 * tolerance of docs/merging.md (1e-4 relative per module; the float32 reference and our float64
 * pipeline differ by about 3e-7, while one entry on the wrong side of a threshold costs 3e-4 or
 * more), with exactly the same KnOTS component counts and entries kept per task.
 */
class FixtureMergeTest {

  static Stream<String> expectedFiles() {
    List<String> files = new ArrayList<>();
    Fixtures.configs().get("configs").forEach(c -> files.add(c.get("file").asText()));
    return files.stream();
  }

  @ParameterizedTest
  @MethodSource("expectedFiles")
  void reproducesTheExpectedMerge(String file) throws IOException {
    JsonNode config = Fixtures.config(file);
    MergeRequest request = Fixtures.request(config, "unused");
    AdapterSet adapters =
        AdapterSet.open(Fixtures.STORE, request.adapters(), LoraAdapter.UnsupportedTensors.REFUSE);
    List<MergedModule> merged =
        LocalRuns.merge(
            request, Planner.plan(adapters, request.method(), request.concat()), Fixtures.STORE);
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + file);

    assertEquals(expected.size(), merged.size(), "modules merged");
    List<String> failures = new ArrayList<>();
    for (MergedModule module : merged) {
      Matrix want = expected.get("base_model.model." + module.key() + ".weight");
      String failure = Fixtures.compare(module.key(), module.update(), want);
      if (failure != null) {
        failures.add(failure);
      }
    }
    assertEquals(List.of(), failures, file);

    JsonNode diagnostics = config.get("diagnostics");
    MergeResult result = new MergeResult(merged.stream().map(ModuleOutcome::of).toList());
    if (diagnostics.has("components_kept_per_module")) {
      diagnostics
          .get("components_kept_per_module")
          .fields()
          .forEachRemaining(
              e -> {
                String key = e.getKey().substring("base_model.model.".length());
                assertEquals(
                    e.getValue().asInt(), result.module(key).components(), "components of " + key);
              });
    }
    if (diagnostics.has("kept_per_task")) {
      long[] kept = new long[request.taskCount()];
      for (int i = 0; i < kept.length; i++) {
        kept[i] = diagnostics.get("kept_per_task").get(i).asLong();
      }
      assertArrayEquals(kept, result.usedPerTask(), "entries kept per task");
    }
    assertTrue(merged.stream().allMatch(m -> m.rank() >= 1));
  }

  /**
   * The dense path (SVD of the stacked O x nI matrix of updates) and the factor path give the same
   * merge: both hold the fixture tolerance, and they agree with each other to 1e-9, far below the
   * gap a flipped threshold entry would open (3e-4).
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "knots-ties_topk20_s0.6.safetensors",
        "knots-ties_topk20_s0.6_concat-input.safetensors",
        "knots-ta_topk50_s0.5.safetensors"
      })
  void densePathAgreesWithFactorPath(String file) throws IOException {
    MergeRequest request = Fixtures.request(Fixtures.config(file), "unused");
    AdapterSet adapters =
        AdapterSet.open(Fixtures.STORE, request.adapters(), LoraAdapter.UnsupportedTensors.REFUSE);
    List<AlignedModule> dense = new ArrayList<>();
    for (ModuleSpec spec : adapters.modules()) {
      ModulePlan forced = new ModulePlan(spec, AlignPath.DENSE, "forced by the test");
      dense.add(ModuleAligner.align(forced, request.concat(), Fixtures.STORE));
    }
    List<MergedModule> viaDense = LocalRuns.mergeAligned(request, dense);
    List<MergedModule> viaFactors =
        LocalRuns.merge(
            request, Planner.plan(adapters, request.method(), request.concat()), Fixtures.STORE);
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + file);
    for (int m = 0; m < viaDense.size(); m++) {
      MergedModule module = viaDense.get(m);
      Matrix update = module.update();
      assertNull(
          Fixtures.compare(
              module.key(), update, expected.get("base_model.model." + module.key() + ".weight")));
      Matrix factorUpdate = viaFactors.get(m).update();
      double gap = update.minus(factorUpdate).frobeniusNorm() / factorUpdate.frobeniusNorm();
      assertTrue(gap < 1e-9, module.key() + ": dense and factor paths differ by " + gap);
      assertEquals(viaFactors.get(m).components(), module.components(), module.key());
    }
  }
}
