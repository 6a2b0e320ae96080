package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Fixtures;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.peft.LoraModule;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.linalg.Matrix;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The merged adapter and the merged model, written and read back. */
class MergeOutputsTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";

  @TempDir Path temp;

  @Test
  void mergedAdapterReproducesTheMergedUpdateWithPerModuleRanks() throws IOException {
    Path out = temp.resolve("merged");
    MergeRequest request = Fixtures.request(Fixtures.config(KNOTS_TIES), out.toString());
    MergeResult result = LocalRuns.run(request, Fixtures.STORE, false).result();

    Map<String, Matrix> expected = Fixtures.matrices("expected/" + KNOTS_TIES);
    JsonNode reference =
        Fixtures.json("expected/knots-ties_topk20_s0.6_adapter/adapter_config.json")
            .get("rank_pattern");
    try (LoraAdapter adapter = LoraAdapter.open(Fixtures.STORE, out.toString())) {
      assertEquals(12, adapter.modules().size());
      for (LoraModule module : adapter.modules().values()) {
        assertEquals(
            1.0, module.scale(), "alpha = rank makes PEFT's scaling 1 for " + module.key());
        Matrix b = Matrix.fromRowMajor(module.out(), module.rank(), adapter.readB(module));
        Matrix a = Matrix.fromRowMajor(module.rank(), module.in(), adapter.readA(module));
        assertNull(
            Fixtures.compare(
                module.key(),
                b.multiply(a),
                expected.get("base_model.model." + module.key() + ".weight")));
        // Components whose merged row was pruned to zero are dropped, as in the reference adapter.
        String pattern = module.key().replace(".", "\\.");
        assertEquals(reference.get(pattern).asInt(), module.rank(), "rank of " + module.key());
        assertEquals(module.rank(), result.module(module.key()).rank());
      }
      assertEquals("../../base_model", adapter.config().baseModelNameOrPath());
    }
  }

  @Test
  void mergedModelIsBasePlusUpdateAndCopiesEverythingElse() throws IOException {
    Path out = temp.resolve("model");
    MergeRequest request =
        modelRequest(KNOTS_TIES, Fixtures.path("base_model"), out, OutputFormat.MODEL);
    LocalRuns.run(request, Fixtures.STORE, false);

    assertTrue(Files.exists(out.resolve("config.json")), "config.json copied beside the weights");
    assertFalse(
        Files.exists(out.resolve(HfModelFiles.INDEX_FILE)), "a single-file base stays single");
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + KNOTS_TIES);
    HfModelFiles base = HfModelFiles.open(Fixtures.STORE, Fixtures.path("base_model"));
    HfModelFiles merged = HfModelFiles.open(Fixtures.STORE, out.toString());
    assertEquals(base.layout(), merged.layout(), "same tensors, order, dtypes and shapes");
    int updated = 0;
    for (TensorInfo tensor : base.shards().get(0).header().tensors()) {
      byte[] before = raw(base, tensor.name());
      byte[] after = raw(merged, tensor.name());
      Matrix delta = expected.get("base_model.model." + tensor.name());
      if (delta == null) {
        assertArrayEquals(before, after, tensor.name() + " is copied unchanged");
        continue;
      }
      Matrix difference = matrix(merged, tensor).minus(matrix(base, tensor));
      // float32 rounding of W + dW costs about 6e-8 * |W|, well inside 1e-4 * |dW| here.
      assertNull(Fixtures.compare(tensor.name(), difference, delta));
      updated++;
    }
    assertEquals(12, updated);
  }

  @Test
  void shardedBf16BaseKeepsItsLayoutAndDtype() throws IOException {
    Path baseDir = shardedBf16Base();
    Path out = temp.resolve("both");
    MergeRequest request = modelRequest(KNOTS_TIES, baseDir.toString(), out, OutputFormat.BOTH);
    LocalRuns.run(request, Fixtures.STORE, false);

    assertTrue(Files.exists(out.resolve("adapter/adapter_config.json")));
    HfModelFiles base = HfModelFiles.open(Fixtures.STORE, baseDir.toString());
    HfModelFiles merged = HfModelFiles.open(Fixtures.STORE, out.resolve("model").toString());
    assertTrue(merged.isSharded());
    assertEquals(base.layout(), merged.layout());
    assertEquals(
        base.shards().stream().map(HfModelFiles.Shard::fileName).toList(),
        merged.shards().stream().map(HfModelFiles.Shard::fileName).toList());
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + KNOTS_TIES);
    for (var entry : base.tensors().entrySet()) {
      Matrix delta = expected.get("base_model.model." + entry.getKey());
      if (delta == null) {
        assertArrayEquals(raw(base, entry.getKey()), raw(merged, entry.getKey()), entry.getKey());
        continue;
      }
      assertEquals(DType.BF16, merged.require(entry.getKey()).info().dtype());
      Matrix want = matrix(base, entry.getValue().info()).plus(delta);
      Matrix got = matrix(merged, entry.getValue().info());
      double updateTolerance = Fixtures.RELATIVE_TOLERANCE * delta.maxAbs();
      for (int j = 0; j < want.data.length; j++) {
        // bf16 keeps 8 significant bits (rounding is within 2^-8 relative), on top of the
        // fixture tolerance of the update itself.
        double tolerance = Math.abs(want.data[j]) * 0x1p-8 + updateTolerance;
        assertEquals(want.data[j], got.data[j], tolerance, entry.getKey() + "[" + j + "]");
      }
    }
  }

  private Path shardedBf16Base() throws IOException {
    Path dir = temp.resolve("base-bf16");
    Fixtures.writeShardedBase(dir, DType.BF16, 80_000);
    assertTrue(
        HfModelFiles.open(Fixtures.STORE, dir.toString()).shards().size() >= 3,
        "the test wants several shards");
    return dir;
  }

  private static MergeRequest modelRequest(
      String file, String base, Path out, OutputFormat format) {
    return Fixtures.request(Fixtures.config(file), out.toString(), format, base);
  }

  private static byte[] raw(HfModelFiles model, String name) throws IOException {
    HfModelFiles.TensorLocation location = model.require(name);
    try (SafetensorsReader reader = model.openReader(location.shard())) {
      return reader.readRaw(name);
    }
  }

  private static Matrix matrix(HfModelFiles model, TensorInfo tensor) throws IOException {
    try (SafetensorsReader reader = model.openReader(model.require(tensor.name()).shard())) {
      return Matrix.fromRowMajor(tensor.rows(), tensor.cols(), reader.readDoubles(tensor.name()));
    }
  }

  static JsonNode readJson(Path file) throws IOException {
    return new ObjectMapper().readTree(file.toFile());
  }
}
