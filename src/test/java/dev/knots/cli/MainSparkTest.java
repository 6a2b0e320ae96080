package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.io.Json;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
  private int run(String[] args, ByteArrayOutputStream out, ByteArrayOutputStream err) {
    return Main.run(
        args,
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8),
        () -> spark);
  }

  @Test
  void mergePrintsASummaryAndPublishes() throws Exception {
    Path out = temp.resolve("merged");
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    String adapters = Fixtures.path("adapters/rot90") + "," + Fixtures.path("adapters/hflip");
    assertEquals(0, run(merge(adapters, out), stdout, stderr), stderr.toString());
    String summary = stdout.toString(StandardCharsets.UTF_8);
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
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    int code = run(merge(Fixtures.path("adapters/rot90") + "," + broken, out), stdout, stderr);
    String err = stderr.toString(StandardCharsets.UTF_8);
    assertEquals(1, code, err);
    assertTrue(err.contains(tensor) && err.contains("NaN"), err);
    assertFalse(err.contains("Job aborted"), "the user sees our message, not Spark's: " + err);
    assertTrue(err.contains("Nothing was written at " + out), err);
    assertFalse(Files.exists(out));
    try (Stream<Path> files = Files.list(temp)) {
      assertTrue(files.noneMatch(p -> p.toString().contains("knots-staging")), "staging removed");
    }
  }
}
