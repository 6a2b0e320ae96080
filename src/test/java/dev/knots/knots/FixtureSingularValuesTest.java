package dev.knots.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import dev.knots.Fixtures;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Tolerances;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The real fixture adapters (8 PEFT LoRA tasks, 12 modules) against {@code
 * expected/knots_singular_values.safetensors}: every module's kept singular values in both
 * orientations, and the component counts listed in {@code expected/configs.json}. The counts must
 * match exactly; every kept value is at least 7.8e-5, far from the 1e-5 cut.
 */
class FixtureSingularValuesTest {

  private static List<String> tasks;
  private static List<String> modules;
  private static JsonNode configs;
  private static Map<String, Map<String, Matrix>> adapters;
  private static Map<String, double[]> expected;
  private static Map<String, Map<String, Matrix>> deltas;

  @BeforeAll
  static void load() {
    configs = Fixtures.configs();
    tasks = new ArrayList<>();
    for (JsonNode path : configs.get("configs").get(0).get("adapters")) {
      tasks.add(path.asText().substring("adapters/".length()));
    }
    modules =
        new ArrayList<>(new TreeSet<>(fieldNames(configs.get("adapter_scales").get(tasks.get(0)))));
    adapters = new HashMap<>();
    deltas = new HashMap<>();
    for (String task : tasks) {
      adapters.put(task, Fixtures.matrices("adapters/" + task + "/adapter_model.safetensors"));
      deltas.put(task, Fixtures.matrices("expected/deltas/" + task + ".safetensors"));
    }
    expected = Fixtures.arrays("expected/knots_singular_values.safetensors");
    assertEquals(8, tasks.size(), "fixture tasks");
    assertEquals(12, modules.size(), "fixture modules");
  }

  /**
   * The expected values are the float64 SVD of the float32 files {@code expected/deltas/}, so the
   * dense path on those same files must reproduce them to rounding.
   */
  @ParameterizedTest
  @EnumSource(Concat.class)
  void densePathOnTheExpectedDeltasReproducesTheValues(Concat concat) {
    for (String module : modules) {
      double[] s = JointSvd.ofDense(deltaFiles(module), concat).s();
      double[] want = expectedValues(module, concat);
      assertSameCount(module, concat, want, s);
      for (int j = 0; j < want.length; j++) {
        assertEquals(
            want[j],
            s[j],
            Tolerances.FIXTURE_SINGULAR_VALUES * want[0],
            name(concat) + "/" + module + ": s[" + j + "]");
      }
    }
  }

  /**
   * The factor path works from the adapters themselves, exactly in float64, while the expected
   * values saw each update rounded to float32. By Weyl's inequality the two differ by at most
   * {@code ||E||_2 <= ||E||_F}, {@code E} the difference of the two stacked matrices (about 6e-8 of
   * {@code ||M||_F} here, so a fixed 1e-9 cannot hold); the test computes {@code E} and holds the
   * factor path to that bound.
   */
  @ParameterizedTest
  @EnumSource(Concat.class)
  void factorPathMatchesTheExpectedValuesWithinTheirFloat32Rounding(Concat concat) {
    for (String module : modules) {
      List<LoraFactors> factors = factors(module);
      double[] s = JointSvd.ofFactors(factors, concat).s();
      double[] want = expectedValues(module, concat);
      assertSameCount(module, concat, want, s);
      Matrix exact = stack(TaskCases.deltas(factors), concat);
      double bound =
          exact.minus(stack(deltaFiles(module), concat)).frobeniusNorm()
              + Tolerances.FIXTURE_SINGULAR_VALUES * want[0];
      for (int j = 0; j < want.length; j++) {
        assertEquals(want[j], s[j], bound, name(concat) + "/" + module + ": s[" + j + "]");
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void factorAndDensePathsAgreeOnTheAdapters(Concat concat) {
    for (String module : modules) {
      FactorDenseAgreementTest.assertAgree(name(concat) + "/" + module, factors(module), concat);
    }
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void componentCountsMatchTheMergeConfigs(Concat concat) {
    int checked = 0;
    for (JsonNode config : configs.get("configs")) {
      JsonNode counts = config.path("diagnostics").path("components_kept_per_module");
      if (counts.isMissingNode() || !config.get("concat").asText().equals(name(concat))) {
        continue;
      }
      for (String module : modules) {
        assertEquals(
            counts.get(module).asInt(),
            JointSvd.ofFactors(factors(module), concat).rank(),
            config.get("file").asText() + ": components kept for " + module);
      }
      checked++;
    }
    assertFalse(checked == 0, "configs.json lists component counts for " + concat);
  }

  private static double[] expectedValues(String module, Concat concat) {
    return expected.get(name(concat) + "/" + module);
  }

  private static void assertSameCount(
      String module, Concat concat, double[] want, double[] actual) {
    assertEquals(
        want.length,
        actual.length,
        name(concat) + "/" + module + ": number of singular values > 1e-5");
  }

  private static Matrix stack(List<Matrix> updates, Concat concat) {
    return Matrix.hstack(updates.stream().map(concat::orient).toList());
  }

  /**
   * Each task's float32 update of {@code module} from {@code expected/deltas/<task>.safetensors}.
   */
  private static List<Matrix> deltaFiles(String module) {
    List<Matrix> out = new ArrayList<>();
    for (String task : tasks) {
      out.add(deltas.get(task).get(module + ".weight"));
    }
    return out;
  }

  /**
   * Each task's factors of {@code module}, in task order; rank 0 where a task does not adapt it.
   */
  private static List<LoraFactors> factors(String module) {
    List<LoraFactors> out = new ArrayList<>();
    for (String task : tasks) {
      Map<String, Matrix> tensors = adapters.get(task);
      Matrix a = tensors.get(module + ".lora_A.weight");
      Matrix b = tensors.get(module + ".lora_B.weight");
      double scale = configs.get("adapter_scales").get(task).get(module).get("scale").asDouble();
      out.add(new LoraFactors(b, a.transpose(), scale));
    }
    return out;
  }

  private static String name(Concat concat) {
    return concat.name().toLowerCase(Locale.ROOT);
  }

  private static List<String> fieldNames(JsonNode node) {
    List<String> names = new ArrayList<>();
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      names.add(it.next());
    }
    return names;
  }
}
