package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line end to end on local Spark: a merge, and a merge that fails in a task. */
class MainSparkTest {
  private static SparkContext spark;

  @TempDir Path temp;

  @BeforeAll
  static void start() {
    spark = LocalSpark.start("local[2]", "MainSparkTest");
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  private String[] merge(String adapters, Path out) {
    return new String[] {
      "merge",
      "--adapters",
      adapters,
      "--method",
      "knots-ties",
      "--top-k",
      "20",
      "--scaling",
      "0.6",
      "--output",
      out.toString()
    };
  }

  /** Main's own path, with the test's Spark context. */
  private MainRun run(String[] args) {
    return MainRun.of(() -> spark, args);
  }

  @Test
  void mergePrintsASummaryAndPublishes() throws Exception {
    Path out = temp.resolve("merged");
    String adapters = Fixtures.path("adapters/rot90") + "," + Fixtures.path("adapters/hflip");
    MainRun run = run(merge(adapters, out));
    assertEquals(0, run.code(), run.err());
    String summary = run.out();
    assertTrue(summary.contains("Merged 2 adapters with knots-ties"), summary);
    assertTrue(summary.contains("12 modules in 3 tasks"), summary);
    assertTrue(Files.exists(out.resolve("_SUCCESS")));
    JsonNode timings =
        Json.parseObject(Files.readAllBytes(out.resolve("merge_report.json")), "report")
            .path("timings");
    for (String phase : new String[] {"beforeSparkSeconds", "sparkStartSeconds", "alignSeconds"}) {
      assertTrue(timings.path(phase).isNumber() && timings.path(phase).doubleValue() >= 0, phase);
    }
  }

  @Test
  void aTaskFailureNamesTheTensorAndPublishesNothing() throws Exception {
    Path broken = Files.createDirectories(temp.resolve("broken"));
    for (String file : new String[] {"adapter_config.json", "adapter_model.safetensors"}) {
      Files.copy(Path.of(Fixtures.path("adapters/hflip/" + file)), broken.resolve(file));
    }
    String tensor = "base_model.model.layers.2.self_attn.o_proj.lora_A.weight";
    Fixtures.setFloat32(broken.resolve("adapter_model.safetensors"), tensor, 3, Double.NaN);
    Path out = temp.resolve("merged");
    MainRun run = run(merge(Fixtures.path("adapters/rot90") + "," + broken, out));
    String err = run.err();
    assertEquals(1, run.code(), err);
    assertTrue(err.contains(tensor) && err.contains("NaN"), err);
    assertFalse(err.contains("Job aborted"), "the user sees our message, not Spark's: " + err);
    assertTrue(err.contains("Nothing was written at " + out), err);
    assertFalse(Files.exists(out));
    try (Stream<Path> files = Files.list(temp)) {
      assertTrue(files.noneMatch(p -> p.toString().contains("knots-staging")), "staging removed");
    }
  }
}
