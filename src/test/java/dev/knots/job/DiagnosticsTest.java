package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.ModuleDiagnostics;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.ModuleSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The data-free diagnostics (merged norm, retention per task) against an exact float64 computation
 * from the dense updates: every task's {@code dW_i = scale B_i A_i} as the merge reads it, and the
 * merged update as the written adapter holds it. Tolerance 1e-4 relative: the written factors are
 * float32 (about 1e-7) and KnOTS drops components with singular values at or below 1e-5 of updates
 * of norm about 1.
 */
class DiagnosticsTest {

  @TempDir Path temp;

  @ParameterizedTest
  @CsvSource({
    "knots-ties, 20, output",
    "knots-ta, 100, input",
    "knots-dare-ties, 20, output",
    "ties, 20, output",
    "dare-linear, 100, output"
  })
  void diagnosticsMatchAFloat64ComputationFromDenseUpdates(
      String method, double topK, String concat) throws IOException {
    MergeRequest fixture =
        Fixtures.request(Fixtures.config("knots-ties_topk20_s0.6.safetensors"), "unused");
    List<String> adapters = fixture.adapters().subList(0, 4);
    Path out = temp.resolve("merged");
    MergeRequest request =
        new MergeRequest(
            adapters,
            MergeMethods.byName(method),
            MergeParameters.defaults().withTopK(topK).withScaling(List.of(0.6)),
            MergeMethods.byName(method).aligned()
                ? Concat.valueOf(concat.toUpperCase(Locale.ROOT))
                : Concat.OUTPUT,
            out.toString(),
            OutputFormat.ADAPTER,
            Optional.empty());
    ModuleDiagnostics reported =
        LocalRuns.run(request, Fixtures.STORE, false).result().diagnostics();

    AdapterSet inputs =
        AdapterSet.open(Fixtures.STORE, adapters, LoraAdapter.UnsupportedTensors.REFUSE);
    Map<String, Matrix> merged = new HashMap<>();
    for (ModuleSpec module :
        AdapterSet.open(
                Fixtures.STORE, List.of(out.toString()), LoraAdapter.UnsupportedTensors.REFUSE)
            .modules()) {
      merged.put(module.key(), module.source(0).orElseThrow().read(Fixtures.STORE).delta());
    }
    double mergedSquared = 0;
    double[] dot = new double[adapters.size()];
    double[] squared = new double[adapters.size()];
    for (ModuleSpec module : inputs.modules()) {
      Matrix dW = merged.get(module.key());
      mergedSquared += frobeniusDot(dW, dW);
      for (int i = 0; i < adapters.size(); i++) {
        Matrix task = module.source(i).orElseThrow().read(Fixtures.STORE).delta();
        dot[i] += frobeniusDot(dW, task);
        squared[i] += frobeniusDot(task, task);
      }
    }
    double norm = Math.sqrt(mergedSquared);
    assertEquals(norm, reported.mergedNorm(), 1e-4 * norm, method + " merged norm");
    for (int i = 0; i < adapters.size(); i++) {
      double retention = dot[i] / squared[i];
      assertEquals(
          retention,
          reported.retention()[i],
          1e-4 * Math.max(1, Math.abs(retention)),
          method + " retention of " + adapters.get(i));
    }
  }

  private static double frobeniusDot(Matrix a, Matrix b) {
    double sum = 0;
    for (int j = 0; j < a.data.length; j++) {
      sum += a.data[j] * b.data[j];
    }
    return sum;
  }
}
