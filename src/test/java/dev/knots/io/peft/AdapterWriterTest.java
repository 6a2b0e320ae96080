package dev.knots.io.peft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Fixtures;
import dev.knots.io.LocalFileStore;
import dev.knots.io.RecordingFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterWriterTest {

  private final LocalFileStore local = new LocalFileStore();

  @TempDir Path tmp;

  /** Random factors rounded to float32, so a float32 round trip is exact. */
  private static MergedLoraModule module(String key, int rank, int out, int in, long seed) {
    Random random = new Random(seed);
    double[] b = new double[out * rank];
    double[] a = new double[rank * in];
    Arrays.setAll(b, i -> (float) random.nextGaussian());
    Arrays.setAll(a, i -> (float) random.nextGaussian());
    return new MergedLoraModule(key, rank, out, in, b, a);
  }

  /**
   * The row-major array of the {@code rows x cols} matrix whose column-major array is {@code
   * values}; with the dimensions swapped, the column-major array of a row-major one.
   */
  private static double[] transposed(double[] values, int rows, int cols) {
    double[] out = new double[values.length];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        out[i * cols + j] = values[i + j * rows];
      }
    }
    return out;
  }

  @Test
  void roundTripsThroughLoraAdapterWithScaleOneAndPerModuleRanks() throws IOException {
    List<MergedLoraModule> modules =
        List.of(
            module("layers.1.self_attn.q_proj", 5, 8, 6, 1),
            module("layers.0.self_attn.k_proj", 3, 4, 6, 2),
            module("layers.0.self_attn.q_proj", 5, 8, 6, 3),
            module("layers.0.mlp.up_proj", 1, 7, 6, 4));
    String dir = tmp.resolve("merged").toString();
    RecordingFileStore store = new RecordingFileStore(local);
    AdapterWriter.to(store, dir).baseModel("../../base_model").write(modules);

    assertEquals(
        List.of(
            "create adapter_model.safetensors",
            "close adapter_model.safetensors",
            "create adapter_config.json",
            "close adapter_config.json"),
        store.events(),
        "config is written last");

    try (LoraAdapter adapter = LoraAdapter.open(local, dir)) {
      assertEquals(
          List.of(
              "layers.0.mlp.up_proj",
              "layers.0.self_attn.k_proj",
              "layers.0.self_attn.q_proj",
              "layers.1.self_attn.q_proj"),
          List.copyOf(adapter.modules().keySet()));
      for (MergedLoraModule expected : modules) {
        LoraModule m = adapter.modules().get(expected.key());
        assertEquals(expected.rank(), m.rank(), expected.key());
        assertEquals(expected.out(), m.out());
        assertEquals(expected.in(), m.in());
        assertEquals(1.0, m.scale(), expected.key());
        assertArrayEquals(
            transposed(expected.a(), m.rank(), m.in()), adapter.readA(m), expected.key());
        assertArrayEquals(
            transposed(expected.b(), m.out(), m.rank()), adapter.readB(m), expected.key());
      }
      AdapterConfig config = adapter.config();
      assertEquals(5, config.r());
      assertEquals(5.0, config.loraAlpha());
      assertEquals(
          Map.of("layers\\.0\\.self_attn\\.k_proj", 3, "layers\\.0\\.mlp\\.up_proj", 1),
          config.rankPattern());
      assertEquals(
          Map.of("layers\\.0\\.self_attn\\.k_proj", 3.0, "layers\\.0\\.mlp\\.up_proj", 1.0),
          config.alphaPattern());
      assertEquals("../../base_model", config.baseModelNameOrPath());
      assertEquals(
          List.of(
              "layers.0.mlp.up_proj",
              "layers.0.self_attn.k_proj",
              "layers.0.self_attn.q_proj",
              "layers.1.self_attn.q_proj"),
          config.targets().modules());
    }

    JsonNode json = new ObjectMapper().readTree(Path.of(dir, LoraAdapter.CONFIG_FILE).toFile());
    assertEquals("LORA", json.get("peft_type").textValue());
    assertEquals("none", json.get("bias").textValue());
    assertEquals(0.0, json.get("lora_dropout").doubleValue());
    assertTrue(json.get("use_rslora").isBoolean() && !json.get("use_rslora").booleanValue());
    assertTrue(json.get("use_dora").isBoolean() && !json.get("use_dora").booleanValue());
    assertTrue(json.get("init_lora_weights").booleanValue());
    assertTrue(json.get("inference_mode").booleanValue());
    assertTrue(json.get("modules_to_save").isNull());
    assertTrue(json.get("task_type").isNull());
    assertTrue(
        json.get("fan_in_fan_out").isBoolean() && !json.get("fan_in_fan_out").booleanValue());
  }

  @Test
  void tensorsAreFloat32InSortedOrderWithPeftKeys() throws IOException {
    String dir = tmp.resolve("keys").toString();
    AdapterWriter.to(local, dir).write(List.of(module("b", 2, 3, 4, 1), module("a", 1, 3, 4, 2)));
    SafetensorsHeader header =
        SafetensorsHeader.read(local.inputFile(dir + "/" + LoraAdapter.WEIGHTS_FILE));
    assertEquals(
        List.of(
            "base_model.model.a.lora_A.weight",
            "base_model.model.a.lora_B.weight",
            "base_model.model.b.lora_A.weight",
            "base_model.model.b.lora_B.weight"),
        header.tensors().stream().map(TensorInfo::name).toList());
    assertEquals(DType.F32, header.tensors().get(0).dtype());
    assertArrayEquals(new long[] {1, 4}, header.tensors().get(0).shape());
    assertArrayEquals(new long[] {3, 1}, header.tensors().get(1).shape());
    assertEquals(Map.of("format", "pt"), header.metadata());
  }

  /**
   * Re-writing the expected KnOTS adapter from its own factors reproduces its tensor bytes and
   * ranks.
   */
  @Test
  void reproducesExpectedMergedAdapter() throws IOException {
    String source = Fixtures.path("expected/knots-ties_topk20_s0.6_adapter");
    List<MergedLoraModule> modules = new ArrayList<>();
    AdapterConfig sourceConfig;
    try (LoraAdapter adapter = LoraAdapter.open(local, source)) {
      sourceConfig = adapter.config();
      for (LoraModule m : adapter.modules().values()) {
        modules.add(
            new MergedLoraModule(
                m.key(),
                m.rank(),
                m.out(),
                m.in(),
                transposed(adapter.readB(m), m.rank(), m.out()),
                transposed(adapter.readA(m), m.in(), m.rank())));
      }
    }
    String dir = tmp.resolve("again").toString();
    AdapterWriter.to(local, dir).settingsFrom(sourceConfig).write(modules);

    byte[] want = Files.readAllBytes(Path.of(source, LoraAdapter.WEIGHTS_FILE));
    byte[] got = Files.readAllBytes(Path.of(dir, LoraAdapter.WEIGHTS_FILE));
    long wantData =
        SafetensorsHeader.read(local.inputFile(source + "/" + LoraAdapter.WEIGHTS_FILE))
            .dataOffset();
    long gotData =
        SafetensorsHeader.read(local.inputFile(dir + "/" + LoraAdapter.WEIGHTS_FILE)).dataOffset();
    assertArrayEquals(
        Arrays.copyOfRange(want, (int) wantData, want.length),
        Arrays.copyOfRange(got, (int) gotData, got.length),
        "same tensor bytes in the same order");

    try (LoraAdapter written = LoraAdapter.open(local, dir)) {
      AdapterConfig config = written.config();
      assertEquals(sourceConfig.r(), config.r());
      assertEquals(sourceConfig.baseModelNameOrPath(), config.baseModelNameOrPath());
      for (Map.Entry<String, Integer> entry : config.rankPattern().entrySet()) {
        assertEquals(
            sourceConfig.rankPattern().get(entry.getKey()),
            entry.getValue(),
            "same key format and rank");
      }
      assertEquals(
          sourceConfig.rankPattern().size() - 1,
          config.rankPattern().size(),
          "rank 48 needs no entry");
    }
  }

  @Test
  void keyThatIsADotSuffixOfAnotherIsAnchored() throws IOException {
    String dir = tmp.resolve("suffix").toString();
    AdapterWriter.to(local, dir)
        .write(
            List.of(module("q", 2, 3, 4, 1), module("a.q", 4, 3, 4, 2), module("b.q", 3, 3, 4, 3)));
    try (LoraAdapter adapter = LoraAdapter.open(local, dir)) {
      assertEquals(Map.of("^q", 2, "b\\.q", 3), adapter.config().rankPattern());
      assertEquals(2, adapter.modules().get("q").rank());
      assertEquals(4, adapter.modules().get("a.q").rank());
      assertEquals(3, adapter.modules().get("b.q").rank());
    }
  }

  @Test
  void writesBfloat16WhenAsked() throws IOException {
    String dir = tmp.resolve("bf16").toString();
    AdapterWriter.to(local, dir).dtype(DType.BF16).write(List.of(module("m", 2, 3, 4, 1)));
    try (LoraAdapter adapter = LoraAdapter.open(local, dir)) {
      LoraModule m = adapter.modules().get("m");
      assertEquals(DType.BF16, m.a().dtype());
      assertEquals(1.0, m.scale());
    }
  }

  @Test
  void refusesBadModules() {
    String dir = tmp.resolve("bad").toString();
    MergedLoraModule m = module("x", 1, 2, 2, 1);
    IllegalArgumentException duplicate =
        assertThrows(
            IllegalArgumentException.class,
            () -> AdapterWriter.to(local, dir).write(List.of(m, m)));
    assertEquals(
        "Cannot write adapter " + dir + ": module x appears twice.", duplicate.getMessage());

    IllegalArgumentException prefixed =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                AdapterWriter.to(local, dir)
                    .write(List.of(module("base_model.model.x", 1, 2, 2, 1))));
    assertTrue(
        prefixed.getMessage().contains("without the base_model.model. prefix"),
        prefixed.getMessage());

    double[] b = {1, Double.NaN};
    IllegalArgumentException nan =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                AdapterWriter.to(local, dir)
                    .write(List.of(new MergedLoraModule("y", 1, 2, 1, b, new double[] {1}))));
    assertEquals(
        "Cannot write module y to adapter " + dir + ": B has NaN at index 1.", nan.getMessage());
    IllegalArgumentException stored =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                AdapterWriter.to(local, dir)
                    .write(
                        List.of(
                            new MergedLoraModule(
                                "y", 2, 2, 1, new double[] {1, Double.NaN, 3, 4}, new double[2]))));
    assertEquals(
        "Cannot write module y to adapter " + dir + ": B has NaN at index 2.",
        stored.getMessage(),
        "the index in the stored row-major tensor: entry (1, 0) of the 2 x 2 B");

    double[] extremes = {-0.0, Double.MIN_VALUE, -Double.MAX_VALUE, Double.MIN_NORMAL};
    double[] infinite = {1, 2, 3, Double.NEGATIVE_INFINITY};
    IllegalArgumentException inf =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                AdapterWriter.to(local, dir)
                    .write(List.of(new MergedLoraModule("y", 1, 4, 4, extremes, infinite))));
    assertEquals(
        "Cannot write module y to adapter " + dir + ": A has -Infinity at index 3.",
        inf.getMessage(),
        "the extreme finite values of B pass, the infinity in A does not");

    IllegalArgumentException shape =
        assertThrows(
            IllegalArgumentException.class,
            () -> new MergedLoraModule("z", 2, 2, 2, new double[4], new double[3]));
    assertEquals(
        "Cannot write module z: B has 4 values and A has 3, but B must be 2 x 2 and A 2 x 2.",
        shape.getMessage());
    IllegalArgumentException zero =
        assertThrows(
            IllegalArgumentException.class,
            () -> new MergedLoraModule("z", 0, 2, 2, new double[0], new double[0]));
    assertTrue(
        zero.getMessage().contains("leave out modules whose update is zero"), zero.getMessage());
    assertTrue(!local.exists(dir + "/" + LoraAdapter.CONFIG_FILE));
  }
}
