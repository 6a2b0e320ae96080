package dev.knots.io.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import dev.knots.io.LocalFileStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HfModelFilesTest {

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Test
  void opensFixtureBaseModel() throws IOException {
    HfModelFiles model = HfModelFiles.open(store, Fixtures.path("base_model"));
    assertFalse(model.isSharded());
    assertEquals(1, model.shards().size());
    assertEquals(29, model.tensors().size());
    HfModelFiles.TensorLocation q = model.require("layers.0.self_attn.q_proj.weight");
    assertEquals(Fixtures.path("base_model/model.safetensors"), q.shard().location());
    assertEquals(64, q.info().rows());
    assertEquals(29, model.layout().get(0).size());
    assertTrue(model.tensor("lm_head.weight").isEmpty());
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> model.require("lm_head.weight"));
    assertEquals(
        "Cannot find tensor 'lm_head.weight' in model "
            + Fixtures.path("base_model")
            + ": its 29 tensors do not include it.",
        e.getMessage());
  }

  @Test
  void refusesPickledWeights() throws IOException {
    Path dir = tmp.resolve("pickled");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("config.json"), "{}");
    Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertEquals(
        "Cannot open model directory "
            + dir
            + ": it contains pickled weights (pytorch_model.bin) and no"
            + " safetensors; pickles are never loaded. Convert with `safetensors`' convert script or"
            + " save_pretrained(safe_serialization=True).",
        e.getMessage());
  }

  @Test
  void refusesDirectoryWithoutWeights() throws IOException {
    Path dir = tmp.resolve("empty");
    Files.createDirectories(dir);
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertTrue(
        e.getMessage()
            .startsWith(
                "Cannot open model directory "
                    + dir
                    + ": it has neither model.safetensors nor model.safetensors.index.json."),
        e.getMessage());
  }

  @Test
  void indexMustMatchShards() throws IOException {
    Path dir = tmp.resolve("sharded");
    String one = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    RawFiles.write(dir, "model-00001-of-00002.safetensors", RawFiles.safetensors(one, 4));
    String two =
        "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
    RawFiles.write(dir, "model-00002-of-00002.safetensors", RawFiles.safetensors(two, 8));
    String index = dir.resolve(HfModelFiles.INDEX_FILE).toString();

    writeIndex(
        dir,
        Map.of("a", "model-00001-of-00002.safetensors", "b", "model-00002-of-00002.safetensors"));
    FileFormatException unlisted =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertEquals(
        "Cannot open sharded model "
            + index
            + ": tensor 'extra' of shard model-00002-of-00002.safetensors is not listed.",
        unlisted.getMessage());

    writeIndex(
        dir,
        Map.of(
            "a",
            "model-00001-of-00002.safetensors",
            "b",
            "model-00002-of-00002.safetensors",
            "extra",
            "model-00002-of-00002.safetensors",
            "c",
            "model-00001-of-00002.safetensors"));
    FileFormatException missing =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertEquals(
        "Cannot open sharded model "
            + index
            + ": tensor 'c' is mapped to model-00001-of-00002.safetensors, which has no such tensor.",
        missing.getMessage());

    writeIndex(
        dir, Map.of("a", "model-00001-of-00002.safetensors", "b", "../elsewhere.safetensors"));
    FileFormatException path =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertTrue(
        path.getMessage()
            .contains("tensor 'b' maps to \"../elsewhere.safetensors\", not a file name"),
        path.getMessage());

    writeIndex(
        dir,
        Map.of(
            "a",
            "model-00001-of-00002.safetensors",
            "b",
            "model-00002-of-00002.safetensors",
            "extra",
            "model-00002-of-00002.safetensors"));
    HfModelFiles model = HfModelFiles.open(store, dir.toString());
    assertEquals(List.of("a", "b", "extra"), List.copyOf(model.tensors().keySet()));
    assertEquals(2, model.shards().size());
  }

  /** A malformed shard index is described in the file's terms, naming the index and the place. */
  @Test
  void malformedIndexNamesTheFileAndThePlace() throws IOException {
    Path dir = tmp.resolve("malformed");
    Files.createDirectories(dir);
    String index = dir.resolve(HfModelFiles.INDEX_FILE).toString();
    Files.writeString(
        dir.resolve(HfModelFiles.INDEX_FILE),
        "{\n  \"metadata\": {\"total_size\": NaN},\n  \"weight_map\": {\"a\": \"m.safetensors\",}\n}",
        StandardCharsets.UTF_8);
    FileFormatException nan =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertEquals(
        "Cannot parse shard index "
            + index
            + ": not valid JSON at line 2, column 33: NaN is not a JSON number; JSON has no NaN or"
            + " Infinity, write a finite number.",
        nan.getMessage());

    Files.writeString(
        dir.resolve(HfModelFiles.INDEX_FILE),
        "{\n  \"weight_map\": {\"a\": \"m.safetensors\",}\n}",
        StandardCharsets.UTF_8);
    FileFormatException comma =
        assertThrows(FileFormatException.class, () -> HfModelFiles.open(store, dir.toString()));
    assertEquals(
        "Cannot parse shard index "
            + index
            + ": not valid JSON at line 2, column 39: unexpected '}'.",
        comma.getMessage());
  }

  private static void writeIndex(Path dir, Map<String, String> weightMap) throws IOException {
    StringBuilder json =
        new StringBuilder("{\"metadata\": {\"total_size\": 12}, \"weight_map\": {");
    weightMap.forEach(
        (k, v) -> json.append('"').append(k).append("\": \"").append(v).append("\","));
    json.setCharAt(json.length() - 1, '}');
    json.append('}');
    Files.writeString(dir.resolve(HfModelFiles.INDEX_FILE), json, StandardCharsets.UTF_8);
  }
}
