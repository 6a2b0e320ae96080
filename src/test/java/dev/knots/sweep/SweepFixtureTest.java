package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.LocalEngine;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathOptions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sweep over the fixture adapters, read from a sweep file as a user writes it: the points that
 * match a fixture's configuration reproduce its expected merge within the fixture tolerance (1e-4
 * relative per module, see docs/merging.md).
 */
class SweepFixtureTest {

  @TempDir Path temp;

  @Test
  void pointsMatchingAFixtureReproduceItsExpectedMerge() throws IOException {
    List<String> fixtures =
        List.of("knots-ties_topk20_s0.6.safetensors", "knots-ties_topk10_s1.0.safetensors");
    List<String> adapters = Fixtures.adapters(Fixtures.config(fixtures.get(0)));
    StringBuilder yaml = new StringBuilder("adapters:\n");
    for (String adapter : adapters) {
      yaml.append("  ")
          .append(Path.of(adapter).getFileName())
          .append(": ")
          .append(adapter)
          .append('\n');
    }
    yaml.append("grid:\n  method: knots-ties\n  top-k: [10, 20]\n  scaling: [0.6, 1.0]\n");
    yaml.append("output: ").append(temp.resolve("sweep")).append('\n');
    SweepFile file = SweepFile.parse("fixtures.yaml", yaml.toString());
    assertEquals(4, file.points().size());
    SweepPlan plan = SweepPlan.of(file, Optional.empty(), Optional.empty(), Fixtures.STORE);
    SweepRunner.Outcome outcome =
        new SweepRunner(
                new LocalEngine(Fixtures.STORE),
                PathOptions.defaults(),
                List.of(),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8))
            .run(plan, false);
    assertTrue(outcome.complete());

    for (String fixture : fixtures) {
      assertEquals(adapters, Fixtures.adapters(Fixtures.config(fixture)), "same pool order");
      String point = fixture.replace(".safetensors", "").replace("1.0", "1");
      Path merged = temp.resolve("sweep/points/all").resolve(point);
      Map<String, Matrix> expected = Fixtures.matrices("expected/" + fixture);
      List<String> failures = new ArrayList<>();
      AdapterSet set =
          AdapterSet.open(
              Fixtures.STORE, List.of(merged.toString()), LoraAdapter.UnsupportedTensors.REFUSE);
      for (ModuleSpec module : set.modules()) {
        String failure =
            Fixtures.compare(
                module.key(),
                module.source(0).orElseThrow().read(Fixtures.STORE).delta(),
                expected.get("base_model.model." + module.key() + ".weight"));
        if (failure != null) {
          failures.add(failure);
        }
      }
      assertEquals(List.of(), failures, point);
      assertEquals(expected.size(), set.modules().size(), point);
    }
  }
}
