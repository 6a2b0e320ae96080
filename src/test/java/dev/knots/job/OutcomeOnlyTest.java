package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.PathOptions;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A merge that writes nothing reports each module's outcome without building its factors: the same
 * outcome, rank included, as building them gives.
 */
class OutcomeOnlyTest {

  @ParameterizedTest
  @CsvSource({
    "knots-ties, 10, output",
    "knots-ties, 50, input",
    "knots-ta, 100, output",
    "ties, 20, output"
  })
  void theOutcomeWithoutFactorsIsTheOutcomeOfTheFactors(String method, double topK, String concat)
      throws IOException {
    MergeRequest fixture =
        Fixtures.request(Fixtures.config("knots-ties_topk20_s0.6.safetensors"), "unused");
    MergeRequest request =
        new MergeRequest(
            fixture.adapters(),
            MergeMethods.byName(method),
            MergeParameters.defaults().withTopK(topK).withScaling(List.of(0.6)),
            concat.equals("input") ? Concat.INPUT : Concat.OUTPUT,
            "unused",
            OutputFormat.ADAPTER,
            Optional.empty());
    MergeInputs inputs = request.openInputs(Fixtures.STORE, LoraAdapter.UnsupportedTensors.REFUSE);
    PlannedMerge planned =
        new PlannedMerge(
            request,
            inputs,
            Planner.plan(inputs, request.method(), request.concat(), PathOptions.defaults()),
            Optional.empty());
    LocalEngine.InMemoryAlignment alignment = new LocalEngine(Fixtures.STORE).align(planned);
    MergeStatistics statistics =
        MergeStatistics.compute(
            request.method(),
            request.parameters(),
            request.taskCount(),
            alignment.modules(planned));
    List<MergedModule> built = alignment.merge(planned, statistics);
    boolean someRowsDropped = false;
    for (MergedModule module : built) {
      AlignedModule aligned =
          ModuleAligner.align(
              planned.plan().modules().stream()
                  .filter(m -> m.key().equals(module.key()))
                  .findFirst()
                  .orElseThrow(),
              request.concat(),
              Fixtures.STORE);
      MergedVector vector = aligned.merge(request.method(), request.parameters(), statistics);
      ModuleOutcome want = ModuleOutcome.of(MergedModule.of(aligned, vector));
      ModuleOutcome got = MergedModule.outcome(aligned, vector);
      assertEquals(want.key(), got.key());
      assertEquals(want.out(), got.out(), want.key());
      assertEquals(want.in(), got.in(), want.key());
      assertEquals(want.components(), got.components(), want.key());
      assertEquals(want.rank(), got.rank(), want.key());
      assertArrayEquals(want.usedPerTask(), got.usedPerTask(), want.key());
      assertEquals(want.diagnostics().mergedSquared(), got.diagnostics().mergedSquared());
      assertArrayEquals(want.diagnostics().dotWithTask(), got.diagnostics().dotWithTask());
      someRowsDropped |= want.components() > want.rank();
    }
    if (topK == 10) {
      assertTrue(someRowsDropped, "the case drops rows whose merge is zero");
    }
  }
}
