package dev.knots.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.io.LocalFileStore;
import dev.knots.io.RecordingFileStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedModelWriterTest {

  private final LocalFileStore local = new LocalFileStore();

  @TempDir Path tmp;

  /** Six 4 x 4 float32 tensors (64 bytes each), named so that sorted and layout order differ. */
  private static List<TensorSpec> tensors() {
    List<TensorSpec> specs = new ArrayList<>();
    for (String name :
        List.of("z.weight", "b.weight", "y.weight", "a.weight", "x.weight", "c.weight")) {
      specs.add(TensorSpec.matrix(name, DType.F32, 4, 4));
    }
    return specs;
  }

  private static double[] values(int seed) {
    double[] v = new double[16];
    for (int i = 0; i < v.length; i++) {
      v[i] = seed * 100 + i;
    }
    return v;
  }

  @Test
  void threeShardsRoundTripAndIndexIsWrittenLast() throws IOException {
    List<List<TensorSpec>> layout = ShardedModelWriter.planShards(tensors(), 128);
    assertEquals(3, layout.size());
    String dir = tmp.resolve("model").toString();
    RecordingFileStore store = new RecordingFileStore(local);
    try (ShardedModelWriter writer = ShardedModelWriter.open(store, dir, layout, Map.of())) {
      int seed = 0;
      for (List<TensorSpec> shard : layout) {
        for (TensorSpec spec : shard) {
          writer.write(spec.name(), values(seed++));
        }
      }
      assertFalse(
          local.exists(local.resolve(dir, HfModelFiles.INDEX_FILE)), "no index before close");
    }
    assertEquals(
        List.of(
            "create model-00001-of-00003.safetensors", "close model-00001-of-00003.safetensors",
            "create model-00002-of-00003.safetensors", "close model-00002-of-00003.safetensors",
            "create model-00003-of-00003.safetensors", "close model-00003-of-00003.safetensors",
            "create model.safetensors.index.json", "close model.safetensors.index.json"),
        store.events());

    String index = Files.readString(Path.of(dir, HfModelFiles.INDEX_FILE), StandardCharsets.UTF_8);
    assertEquals(
        "{\n"
            + "  \"metadata\": {\n"
            + "    \"total_size\": 384\n"
            + "  },\n"
            + "  \"weight_map\": {\n"
            + "    \"a.weight\": \"model-00002-of-00003.safetensors\",\n"
            + "    \"b.weight\": \"model-00001-of-00003.safetensors\",\n"
            + "    \"c.weight\": \"model-00003-of-00003.safetensors\",\n"
            + "    \"x.weight\": \"model-00003-of-00003.safetensors\",\n"
            + "    \"y.weight\": \"model-00002-of-00003.safetensors\",\n"
            + "    \"z.weight\": \"model-00001-of-00003.safetensors\"\n"
            + "  }\n"
            + "}\n",
        index);

    HfModelFiles model = HfModelFiles.open(local, dir);
    assertTrue(model.isSharded());
    assertEquals(layout, model.layout());
    assertEquals("384", model.indexMetadata().get("total_size"));
    HfModelFiles.TensorLocation y = model.require("y.weight");
    assertEquals("model-00002-of-00003.safetensors", y.shard().fileName());
    try (SafetensorsReader reader = model.openReader(y.shard())) {
      assertArrayEquals(values(2), reader.readDoubles("y.weight"));
    }
  }

  @Test
  void oneShardIsModelSafetensorsWithoutIndex() throws IOException {
    String dir = tmp.resolve("single").toString();
    List<List<TensorSpec>> layout = ShardedModelWriter.planShards(tensors(), 10_000);
    assertEquals(1, layout.size());
    try (ShardedModelWriter writer =
        ShardedModelWriter.open(local, dir, layout, Map.of("k", "v"))) {
      for (TensorSpec spec : layout.get(0)) {
        writer.write(spec.name(), values(1));
      }
    }
    assertEquals(List.of(HfModelFiles.SINGLE_FILE), local.list(dir));
    HfModelFiles model = HfModelFiles.open(local, dir);
    assertFalse(model.isSharded());
    assertEquals("v", model.shards().get(0).header().metadata().get("k"));
    assertEquals(layout, model.layout());
  }

  @Test
  void missingTensorMeansNoIndex() throws IOException {
    String dir = tmp.resolve("partial").toString();
    List<List<TensorSpec>> layout = ShardedModelWriter.planShards(tensors(), 128);
    ShardedModelWriter writer = ShardedModelWriter.open(local, dir, layout, Map.of());
    writer.write("z.weight", values(0));
    writer.write("b.weight", values(1));
    writer.write("y.weight", values(2));
    IllegalStateException order =
        assertThrows(IllegalStateException.class, () -> writer.write("x.weight", values(3)));
    assertEquals(
        "Cannot write tensor 'x.weight' to "
            + local.resolve(dir, "model-00002-of-00003.safetensors")
            + ": tensors must be written in layout order, and the next one is 'a.weight'.",
        order.getMessage());
    IOException e = assertThrows(IOException.class, writer::close);
    assertTrue(e.getMessage().startsWith("Cannot finish "), e.getMessage());
    assertTrue(e.getMessage().contains("tensor 'a.weight' was not written"), e.getMessage());
    assertFalse(local.exists(local.resolve(dir, HfModelFiles.INDEX_FILE)));
  }

  @Test
  void refusesWritesAcrossShardBoundariesOutOfOrder() throws IOException {
    String dir = tmp.resolve("order").toString();
    List<List<TensorSpec>> layout = ShardedModelWriter.planShards(tensors(), 128);
    ShardedModelWriter writer = ShardedModelWriter.open(local, dir, layout, Map.of());
    writer.write("z.weight", values(0));
    writer.write("b.weight", values(1));
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> writer.write("a.weight", values(3)));
    assertEquals(
        "Cannot write tensor 'a.weight' to model "
            + dir
            + ": tensors must be written in layout order, and the next one is 'y.weight'.",
        e.getMessage());
    assertFalse(
        local.exists(local.resolve(dir, "model-00002-of-00003.safetensors")),
        "not created on a bad write");
    IOException close = assertThrows(IOException.class, writer::close);
    assertEquals(
        "Cannot finish model "
            + dir
            + ": tensor 'y.weight' and the tensors after it were not written;"
            + " no index was written.",
        close.getMessage());
  }

  @Test
  void plansShardsLikeMaxShardSize() {
    List<TensorSpec> specs =
        List.of(
            new TensorSpec("a", DType.F32, new long[] {10}),
            new TensorSpec("b", DType.F32, new long[] {10}),
            new TensorSpec("big", DType.F32, new long[] {100}),
            new TensorSpec("c", DType.F32, new long[] {5}),
            new TensorSpec("d", DType.F32, new long[] {25}));
    List<List<String>> names =
        ShardedModelWriter.planShards(specs, 100).stream()
            .map(shard -> shard.stream().map(TensorSpec::name).toList())
            .toList();
    assertEquals(List.of(List.of("a", "b"), List.of("big"), List.of("c"), List.of("d")), names);
    assertEquals(1, ShardedModelWriter.planShards(specs, 1000).size());
  }

  @Test
  void namesShardsLikeHuggingFace() {
    assertEquals("model-00002-of-00010.safetensors", ShardedModelWriter.shardFileName(2, 10));
    assertEquals("model.safetensors", ShardedModelWriter.shardFileName(1, 1));
  }
}
