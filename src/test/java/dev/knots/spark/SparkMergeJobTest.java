package dev.knots.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.PeftCheck;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.job.LocalMerge;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputCommit;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.AlignPath;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Spark job on local[2] (three attempts per task, so a failed task is retried) against the
 * single-process merge core: the same bytes, whatever the partitioning or retries.
 */
class SparkMergeJobTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";
  private static SparkSession spark;

  @TempDir Path temp;

  @BeforeAll
  static void start() {
    spark = LocalSpark.builder("local[2,3]", "SparkMergeJobTest").getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  static MergeRequest request(String expectedFile, Path output, OutputFormat format, String base) {
    return Fixtures.request(Fixtures.config(expectedFile), output.toString(), format, base);
  }

  @Test
  void adapterOutputIsByteIdenticalToTheSingleProcessMerge() throws Exception {
    Path viaSpark = temp.resolve("spark");
    Path viaCore = temp.resolve("core");
    MergeReport report =
        SparkMergeJob.run(
            spark,
            request(KNOTS_TIES, viaSpark, OutputFormat.ADAPTER, null),
            RunOptions.defaults(),
            0,
            System.nanoTime());
    LocalMerge.run(request(KNOTS_TIES, viaCore, OutputFormat.ADAPTER, null), Fixtures.STORE, false);

    assertSameFile(viaCore, viaSpark, LoraAdapter.WEIGHTS_FILE);
    assertSameFile(viaCore, viaSpark, LoraAdapter.CONFIG_FILE);
    assertTrue(Files.exists(viaSpark.resolve(OutputCommit.SUCCESS)));
    assertFalse(Files.exists(viaSpark.resolve("_parts")), "part files are cleaned up");
    assertEquals(List.of(), stagingLeftovers(), "no staging directory left behind");

    JsonNode json = new ObjectMapper().readTree(viaSpark.resolve(MergeReport.FILE_NAME).toFile());
    assertEquals("knots-ties", json.at("/options/method").asText());
    assertEquals(20.0, json.at("/options/topK").asDouble());
    assertEquals(12, json.at("/modules").size());
    assertEquals(3, json.at("/totals/tasks").asInt(), "one task per transformer layer");
    assertTrue(json.at("/bytes/read").asLong() > 0 && json.at("/bytes/written").asLong() > 0);
    assertEquals("factor", json.at("/modules/0/path").asText());
    assertTrue(report.summary().contains("Merged 8 adapters with knots-ties"), report.summary());
    PeftCheck.assertPeftReproduces(viaSpark, KNOTS_TIES);
  }

  @Test
  void modelOutputFromAShardedBaseMatchesTheSingleProcessMerge() throws IOException {
    Path base = temp.resolve("base");
    Fixtures.writeShardedBase(base, DType.BF16, 80_000);
    Path viaSpark = temp.resolve("spark");
    Path viaCore = temp.resolve("core");
    SparkMergeJob.run(
        spark,
        request(KNOTS_TIES, viaSpark, OutputFormat.BOTH, base.toString()),
        RunOptions.defaults(),
        0,
        System.nanoTime());
    LocalMerge.run(
        request(KNOTS_TIES, viaCore, OutputFormat.BOTH, base.toString()), Fixtures.STORE, false);
    try (Stream<Path> files = Files.walk(viaCore)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        String relative = viaCore.relativize(file).toString();
        if (!relative.equals(MergeReport.FILE_NAME)) {
          assertSameFile(viaCore, viaSpark, relative);
        }
      }
    }
    assertTrue(Files.exists(viaSpark.resolve("model/model.safetensors.index.json")));
  }

  @Test
  void aTaskThatFailsOnceIsRetriedAndWritesTheSameBytes() throws IOException {
    Path clean = temp.resolve("clean");
    Path retried = temp.resolve("retried");
    SparkMergeJob.run(
        spark,
        request(KNOTS_TIES, clean, OutputFormat.ADAPTER, null),
        RunOptions.defaults(),
        0,
        System.nanoTime());
    spark.sparkContext().setLocalProperty(SparkMergeJob.FAIL_ONCE_CONF, "1");
    try {
      SparkMergeJob.run(
          spark,
          request(KNOTS_TIES, retried, OutputFormat.ADAPTER, null),
          RunOptions.defaults(),
          0,
          System.nanoTime());
    } finally {
      spark.sparkContext().setLocalProperty(SparkMergeJob.FAIL_ONCE_CONF, null);
    }
    assertSameFile(clean, retried, LoraAdapter.WEIGHTS_FILE);
    assertSameFile(clean, retried, LoraAdapter.CONFIG_FILE);
  }

  @Test
  void anExistingOutputIsRefusedUnlessOverwrite() throws IOException {
    Path out = temp.resolve("existing");
    Files.createDirectories(out);
    Files.writeString(out.resolve("keep.txt"), "old");
    MergeRequest request = request(KNOTS_TIES, out, OutputFormat.ADAPTER, null);
    IOException e =
        assertThrows(
            IOException.class,
            () -> SparkMergeJob.run(spark, request, RunOptions.defaults(), 0, System.nanoTime()));
    assertTrue(
        e.getMessage().contains("already exists") && e.getMessage().contains("--overwrite"),
        e.getMessage());
    assertTrue(Files.exists(out.resolve("keep.txt")), "the old output is untouched");

    SparkMergeJob.run(
        spark,
        request,
        new RunOptions(true, LoraAdapter.UnsupportedTensors.REFUSE),
        0,
        System.nanoTime());
    assertFalse(Files.exists(out.resolve("keep.txt")), "replaced by the new merge");
    assertTrue(Files.exists(out.resolve(OutputCommit.SUCCESS)));
  }

  /**
   * Every KnOTS module forced onto the distributed path (MLlib's Gramian, here M M^T of 32 or 64
   * columns) reproduces the expected merge within the fixture tolerance (1e-4 relative per module;
   * the Gramian's error on these modules, eps cond^2 with cond <= 1e4, is below 1e-7) with exactly
   * the expected number of components per module.
   */
  @ParameterizedTest
  @ValueSource(strings = {KNOTS_TIES, "knots-ties_topk20_s0.6_concat-input.safetensors"})
  void forcedDistributedAlignmentReproducesTheExpectedMerge(String file) throws IOException {
    Path out = temp.resolve("distributed");
    RunOptions distributed =
        new RunOptions(
            false,
            LoraAdapter.UnsupportedTensors.REFUSE,
            new PathRequest(
                Optional.of(AlignPath.DISTRIBUTED), OptionalLong.empty(), OptionalLong.empty()));
    SparkMergeJob.run(
        spark, request(file, out, OutputFormat.ADAPTER, null), distributed, 0, System.nanoTime());

    Map<String, Matrix> expected = Fixtures.matrices("expected/" + file);
    AdapterSet merged =
        AdapterSet.open(
            Fixtures.STORE, List.of(out.toString()), LoraAdapter.UnsupportedTensors.REFUSE);
    List<String> failures = new ArrayList<>();
    for (ModuleSpec module : merged.modules()) {
      Matrix update = module.source(0).orElseThrow().read(Fixtures.STORE).delta();
      String failure =
          Fixtures.compare(
              module.key(), update, expected.get("base_model.model." + module.key() + ".weight"));
      if (failure != null) {
        failures.add(failure);
      }
    }
    assertEquals(List.of(), failures);
    assertEquals(expected.size(), merged.modules().size());

    JsonNode report = new ObjectMapper().readTree(out.resolve(MergeReport.FILE_NAME).toFile());
    JsonNode components = Fixtures.config(file).at("/diagnostics/components_kept_per_module");
    assertEquals(12, components.size());
    for (JsonNode module : report.get("modules")) {
      String key = module.get("key").asText();
      assertEquals("distributed", module.get("path").asText(), key);
      assertEquals(
          components.get("base_model.model." + key).asInt(),
          module.get("components").asInt(),
          "components of " + key);
    }
  }

  private List<Path> stagingLeftovers() throws IOException {
    try (Stream<Path> files = Files.list(temp)) {
      return files.filter(p -> p.getFileName().toString().contains("knots-staging")).toList();
    }
  }

  private static void assertSameFile(Path expected, Path actual, String relative)
      throws IOException {
    assertArrayEquals(
        Files.readAllBytes(expected.resolve(relative)),
        Files.readAllBytes(actual.resolve(relative)),
        relative + " differs");
  }
}
