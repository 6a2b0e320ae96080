package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.Fixtures;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The synthetic merges run while Spark starts (real files, real kernels, no Spark). */
class KernelWarmupTest {
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
      KernelWarmup warmup = KernelWarmup.start(request(method));
      long deadline = System.nanoTime() + 120_000_000_000L;
      while (warmup.runs() < KernelWarmup.MAX_RUNS
          && warmup.failure().isEmpty()
          && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      warmup.close();
      assertEquals(Optional.empty(), warmup.failure(), method);
      assertEquals(KernelWarmup.MAX_RUNS, warmup.runs(), method);
      assertEquals(before, warmupDirectories(), method + ": its temporary files are deleted");
    }
  }

  @Test
  void aLargeSetWarmsUpOnAFewAdaptersWithTheirOwnScalings() throws Exception {
    int count = KernelWarmup.MAX_ADAPTERS + 4;
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
    KernelWarmup warmup = KernelWarmup.start(many);
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (warmup.runs() < 1 && warmup.failure().isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    warmup.close();
    assertEquals(Optional.empty(), warmup.failure());
    assertTrue(warmup.runs() >= 1, "merges: " + warmup.runs());
  }

  @Test
  void closeStopsAfterTheMergeInProgress() throws Exception {
    KernelWarmup warmup = KernelWarmup.start(request("knots-ties"));
    warmup.close();
    assertTrue(warmup.runs() <= 1, "merges after close: " + warmup.runs());
    assertEquals(Optional.empty(), warmup.failure());
  }

  @Test
  void onlyALocalMasterRunsTheTasksInThisJvm() {
    assertTrue(KernelWarmup.tasksRunHere(null), "the default master is local[*]");
    assertTrue(KernelWarmup.tasksRunHere("local"));
    assertTrue(KernelWarmup.tasksRunHere("local[*]"));
    assertTrue(KernelWarmup.tasksRunHere("local[4,2]"));
    assertFalse(KernelWarmup.tasksRunHere("local-cluster[2,1,1024]"), "executors are other JVMs");
    assertFalse(KernelWarmup.tasksRunHere("spark://host:7077"));
    assertFalse(KernelWarmup.tasksRunHere("yarn"));
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
