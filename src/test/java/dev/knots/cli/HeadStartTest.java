package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.plan.MergePlan;
import dev.knots.plan.Planner;
import dev.knots.spark.EarlyAlignment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The synthetic merges and the early alignment run while Spark starts (real files, real kernels, no
 * Spark).
 */
class HeadStartTest {
  private static MergeRequest request(String method) {
    return Fixtures.request(
        ((ObjectNode) Fixtures.config("knots-ties_topk20_s0.6.safetensors").deepCopy())
            .put("method", method),
        Path.of("unused").toString());
  }

  @Test
  void runsItsMergesWithTheRequestsMethodAndLeavesNoFiles() throws Exception {
    for (String method : List.of("knots-ties", "ta", "knots-dare-ties")) {
      List<Path> before = warmupDirectories();
      HeadStart head = HeadStart.start(request(method), Fixtures.STORE);
      head.plan(Optional.empty());
      awaitUnlessFailed(head, () -> head.runs() >= HeadStart.MAX_RUNS);
      head.close();
      assertEquals(Optional.empty(), head.failure(), method);
      assertEquals(HeadStart.MAX_RUNS, head.runs(), method);
      assertEquals(before, warmupDirectories(), method + ": its temporary files are deleted");
    }
  }

  @Test
  void aLargeSetWarmsUpOnAFewAdaptersWithTheirOwnScalings() throws Exception {
    int count = HeadStart.MAX_ADAPTERS + 4;
    List<String> adapters = new ArrayList<>();
    List<Double> scaling = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      adapters.add("adapter-" + i);
      scaling.add(0.1 * (i + 1));
    }
    MergeRequest request = request("knots-ties");
    MergeRequest many =
        new MergeRequest(
            adapters,
            request.method(),
            request.parameters().withScaling(scaling),
            request.concat(),
            request.output(),
            OutputFormat.ADAPTER,
            Optional.empty());
    HeadStart head = HeadStart.start(many, Fixtures.STORE);
    awaitUnlessFailed(head, () -> head.runs() >= 1);
    head.close();
    assertEquals(Optional.empty(), head.failure());
    assertTrue(head.runs() >= 1, "merges: " + head.runs());
  }

  @Test
  void withAPlanItAlignsTheLayersAfterAFewMerges() throws Exception {
    MergeRequest request = request("knots-ties");
    MergePlan plan = planOf(request);
    HeadStart head = HeadStart.start(request, Fixtures.STORE);
    int aligned = alignEveryLayerAndClose(head, plan);
    assertEquals(HeadStart.RUNS_BEFORE_ALIGNING, head.runs(), "synthetic merges first");
    assertEquals(plan.layers().size(), aligned, "then every layer");
    assertEquals(0, head.early().orElseThrow().layersAligned(), "closing drops the layers");
  }

  /** Main hands the plan over once it has read the headers, while the synthetic merges run. */
  @Test
  void mergesOnUntilThePlanComesAndThenAlignsItsLayers() throws Exception {
    MergeRequest request = request("knots-ties");
    MergePlan plan = planOf(request);
    HeadStart head = HeadStart.start(request, Fixtures.STORE);
    awaitUnlessFailed(head, () -> head.runs() > HeadStart.RUNS_BEFORE_ALIGNING);
    assertTrue(
        head.runs() > HeadStart.RUNS_BEFORE_ALIGNING, "merges without a plan: " + head.runs());
    assertEquals(Optional.empty(), head.early(), "no plan, no layers");

    int aligned = alignEveryLayerAndClose(head, plan);
    assertEquals(plan.layers().size(), aligned, "the plan's layers, once it came");
    assertTrue(head.runs() <= HeadStart.MAX_RUNS, "merges: " + head.runs());
  }

  /** A command whose plan fails closes a head start that never got one. */
  @Test
  @Timeout(60)
  void closeStopsAfterTheMergeInProgress() throws Exception {
    HeadStart head = HeadStart.start(request("knots-ties"), Fixtures.STORE);
    head.close();
    assertTrue(head.runs() <= 1, "merges after close: " + head.runs());
    assertEquals(Optional.empty(), head.failure());
  }

  @Test
  void onlyALocalMasterRunsTheTasksInThisJvm() {
    assertTrue(HeadStart.tasksRunHere(null), "the default master is local[*]");
    assertTrue(HeadStart.tasksRunHere("local"));
    assertTrue(HeadStart.tasksRunHere("local[*]"));
    assertTrue(HeadStart.tasksRunHere("local[4,2]"));
    assertFalse(HeadStart.tasksRunHere("local-cluster[2,1,1024]"), "executors are other JVMs");
    assertFalse(HeadStart.tasksRunHere("spark://host:7077"));
    assertFalse(HeadStart.tasksRunHere("yarn"));
  }

  private static List<Path> warmupDirectories() throws IOException {
    try (Stream<Path> files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return files
          .filter(p -> p.getFileName().toString().startsWith("knots-warmup"))
          .sorted()
          .toList();
    }
  }

  private static MergePlan planOf(MergeRequest request) throws IOException {
    return Planner.plan(
        request.openInputs(Fixtures.STORE, LoraAdapter.UnsupportedTensors.REFUSE),
        request.method(),
        request.concat());
  }

  /**
   * Hands {@code plan} over, waits for every layer, closes, and returns how many layers were
   * aligned before closing, checking that nothing failed.
   */
  private static int alignEveryLayerAndClose(HeadStart head, MergePlan plan)
      throws InterruptedException {
    head.plan(Optional.of(plan));
    EarlyAlignment early = head.early().orElseThrow();
    awaitUnlessFailed(head, () -> early.layersAligned() == plan.layers().size());
    int aligned = early.layersAligned();
    head.close();
    assertEquals(Optional.empty(), head.failure());
    return aligned;
  }

  /** Waits up to two minutes for {@code done}, or until the head start has failed. */
  private static void awaitUnlessFailed(HeadStart head, BooleanSupplier done)
      throws InterruptedException {
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (!done.getAsBoolean() && head.failure().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
  }
}
