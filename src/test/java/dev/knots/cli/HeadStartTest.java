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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

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
      HeadStart head = HeadStart.start(request(method), Optional.empty(), Fixtures.STORE);
      long deadline = System.nanoTime() + 120_000_000_000L;
      while (head.runs() < HeadStart.MAX_RUNS
          && head.failure().isEmpty()
          && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
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
    HeadStart head = HeadStart.start(many, Optional.empty(), Fixtures.STORE);
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (head.runs() < 1 && head.failure().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    head.close();
    assertEquals(Optional.empty(), head.failure());
    assertTrue(head.runs() >= 1, "merges: " + head.runs());
  }

  @Test
  void withAPlanItAlignsTheLayersAfterAFewMerges() throws Exception {
    MergeRequest request = request("knots-ties");
    MergePlan plan =
        Planner.plan(
            request.openInputs(Fixtures.STORE, LoraAdapter.UnsupportedTensors.REFUSE),
            request.method(),
            request.concat());
    HeadStart head = HeadStart.start(request, Optional.of(plan), Fixtures.STORE);
    EarlyAlignment early = head.early().orElseThrow();
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (early.layersAligned() < plan.layers().size()
        && head.failure().isEmpty()
        && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    int aligned = early.layersAligned();
    head.close();
    assertEquals(Optional.empty(), head.failure());
    assertEquals(HeadStart.RUNS_BEFORE_ALIGNING, head.runs(), "synthetic merges first");
    assertEquals(plan.layers().size(), aligned, "then every layer");
    assertEquals(0, early.layersAligned(), "closing drops the layers no task took");
  }

  @Test
  void closeStopsAfterTheMergeInProgress() throws Exception {
    HeadStart head = HeadStart.start(request("knots-ties"), Optional.empty(), Fixtures.STORE);
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
}
