package dev.knots.io.peft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import dev.knots.io.LocalFileStore;
import dev.knots.io.peft.LoraAdapter.UnsupportedTensors;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LoraAdapterTest {

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Test
  void opensEveryFixtureAdapter() throws IOException {
    int[] ranks = {8, 4, 8, 16, 8, 4, 8, 8};
    for (int t = 0; t < Fixtures.TASKS.length; t++) {
      try (LoraAdapter adapter =
          LoraAdapter.open(store, Fixtures.path("adapters/" + Fixtures.TASKS[t]))) {
        assertEquals(12, adapter.modules().size(), Fixtures.TASKS[t]);
        assertTrue(adapter.warnings().isEmpty());
        LoraModule k = adapter.modules().get("layers.2.self_attn.k_proj");
        boolean shift = Fixtures.TASKS[t].equals("shift_down2");
        assertEquals(shift ? 4 : ranks[t], k.rank(), Fixtures.TASKS[t]);
        assertEquals(64, k.in());
        assertEquals(32, k.out());
        assertEquals("base_model.model.layers.2.self_attn.k_proj.lora_A.weight", k.a().name());
        LoraModule q = adapter.modules().get("layers.2.self_attn.q_proj");
        assertEquals(ranks[t], q.rank());
        assertEquals(64, q.out());
      }
    }
  }

  @Test
  void fixtureScales() throws IOException {
    try (LoraAdapter shift = LoraAdapter.open(store, Fixtures.path("adapters/shift_down2"));
        LoraAdapter rslora = LoraAdapter.open(store, Fixtures.path("adapters/transpose_mod3"))) {
      assertEquals(4.0, shift.modules().get("layers.0.self_attn.k_proj").scale());
      assertEquals(2.0, shift.modules().get("layers.0.self_attn.v_proj").scale());
      assertEquals(16 / Math.sqrt(8), rslora.modules().get("layers.1.self_attn.o_proj").scale());
    }
  }

  /** {@code scale * B @ A} of every module of every fixture against the expected float32 deltas. */
  @Test
  void scaledProductsMatchExpectedDeltas() throws IOException {
    for (String task : Fixtures.TASKS) {
      String deltas = Fixtures.path("expected/deltas/" + task + ".safetensors");
      try (LoraAdapter adapter = LoraAdapter.open(store, Fixtures.path("adapters/" + task));
          SafetensorsReader expected =
              new SafetensorsReader(
                  store.inputFile(deltas), SafetensorsHeader.read(store.inputFile(deltas)))) {
        for (LoraModule m : adapter.modules().values()) {
          double[] a = adapter.readA(m);
          double[] b = adapter.readB(m);
          double[] want = expected.readDoubles(LoraAdapter.KEY_PREFIX + m.key() + ".weight");
          double diff = 0;
          double norm = 0;
          for (int i = 0; i < m.out(); i++) {
            for (int j = 0; j < m.in(); j++) {
              double sum = 0;
              for (int k = 0; k < m.rank(); k++) {
                sum += b[i * m.rank() + k] * a[k * m.in() + j];
              }
              double got = m.scale() * sum;
              double w = want[i * m.in() + j];
              diff += (got - w) * (got - w);
              norm += w * w;
            }
          }
          double relative = Math.sqrt(diff / norm);
          assertTrue(relative <= 1e-6, task + " " + m.key() + ": relative error " + relative);
        }
      }
    }
  }

  @Test
  void expectedMergedAdapterHasPerModuleRanksAndScaleOne() throws IOException {
    try (LoraAdapter merged =
        LoraAdapter.open(store, Fixtures.path("expected/knots-ties_topk20_s0.6_adapter"))) {
      assertEquals(29, merged.modules().get("layers.0.self_attn.k_proj").rank());
      assertEquals(48, merged.modules().get("layers.1.self_attn.q_proj").rank());
      assertEquals(25, merged.modules().get("layers.2.self_attn.v_proj").rank());
      for (LoraModule m : merged.modules().values()) {
        assertEquals(1.0, m.scale(), m.key());
      }
    }
  }

  @Test
  void acceptsAdapterNameInfix() throws IOException {
    String dir =
        new AdapterDirs()
            .tensor("base_model.model.layers.0.q.lora_A.default.weight", 2, 3)
            .tensor("base_model.model.layers.0.q.lora_B.default.weight", 4, 2)
            .write(tmp.resolve("infix"));
    try (LoraAdapter adapter = LoraAdapter.open(store, dir)) {
      LoraModule m = adapter.modules().get("layers.0.q");
      assertEquals(2.0, m.scale());
      assertArrayEquals(new double[] {0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f}, adapter.readA(m));
    }
  }

  @Test
  void rankMismatchBetweenAAndB() throws IOException {
    String dir =
        new AdapterDirs()
            .tensor("base_model.model.layers.0.q.lora_A.weight", 2, 3)
            .tensor("base_model.model.layers.0.q.lora_B.weight", 4, 3)
            .write(tmp.resolve("mismatch"));
    assertRefused(
        dir,
        "module layers.0.q has lora_A [2, 3] and lora_B [4, 3] of different ranks;"
            + " PEFT expects lora_A [r, in] and lora_B [out, r].");
  }

  @Test
  void rankDisagreesWithConfig() throws IOException {
    String dir =
        new AdapterDirs()
            .config("{\"peft_type\":\"LORA\",\"r\":8,\"rank_pattern\":{\"other\":2}}")
            .module("layers.0.q")
            .write(tmp.resolve("rank"));
    assertRefused(
        dir,
        "module layers.0.q has rank 2 (lora_A [2, 3], lora_B [4, 2]), but adapter_config.json gives"
            + " it rank 8 (r or rank_pattern); PEFT would refuse to load it.");
  }

  @Test
  void missingB() throws IOException {
    String dir =
        new AdapterDirs()
            .tensor("base_model.model.layers.0.q.lora_A.weight", 2, 3)
            .write(tmp.resolve("noB"));
    assertRefused(
        dir,
        "module layers.0.q has lora_A 'base_model.model.layers.0.q.lora_A.weight' but no lora_B.");
    String noA =
        new AdapterDirs()
            .tensor("base_model.model.layers.0.q.lora_B.weight", 4, 2)
            .write(tmp.resolve("noA"));
    assertRefused(
        noA,
        "module layers.0.q has lora_B 'base_model.model.layers.0.q.lora_B.weight' but no lora_A.");
  }

  @Test
  void doraMagnitudeRefusedOrSkipped() throws IOException {
    String dir =
        new AdapterDirs()
            .module("layers.0.q")
            .tensor("base_model.model.layers.0.q.lora_magnitude_vector", 4, 1)
            .write(tmp.resolve("dora"));
    assertRefused(
        dir,
        "it uses DoRA (a magnitude vector) (tensor 'base_model.model.layers.0.q.lora_magnitude_vector'),"
            + " which the merge does not support. Use an adapter without it, or rerun with"
            + " --skip-unsupported to leave it out.");
    try (LoraAdapter lenient = LoraAdapter.open(store, dir, UnsupportedTensors.SKIP_WITH_WARNING)) {
      assertEquals(1, lenient.modules().size());
      assertEquals(
          List.of(
              "Adapter "
                  + dir
                  + ": left out DoRA (a magnitude vector) (tensor"
                  + " 'base_model.model.layers.0.q.lora_magnitude_vector'); the merge uses B @ A without DoRA's magnitude."),
          lenient.warnings());
    }
  }

  @Test
  void doraConfigFlagRefused() throws IOException {
    String dir =
        new AdapterDirs()
            .config("{\"peft_type\":\"LORA\",\"r\":2,\"use_dora\":true}")
            .module("layers.0.q")
            .write(tmp.resolve("doraflag"));
    assertRefused(
        dir,
        "it uses DoRA (use_dora is true in adapter_config.json), which the merge does not support.");
  }

  @Test
  void loraBiasRefused() throws IOException {
    String flag =
        new AdapterDirs()
            .config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_bias\":true}")
            .module("layers.0.q")
            .write(tmp.resolve("biasflag"));
    assertRefused(flag, "it uses a LoRA bias (lora_bias is true in adapter_config.json)");
    String tensor =
        new AdapterDirs()
            .module("layers.0.q")
            .tensor("base_model.model.layers.0.q.lora_B.bias", 4)
            .write(tmp.resolve("biastensor"));
    assertRefused(
        tensor,
        "it uses a LoRA bias (lora_B bias) (tensor 'base_model.model.layers.0.q.lora_B.bias')");
  }

  @Test
  void embeddingLoraRefusedOrSkipped() throws IOException {
    String dir =
        new AdapterDirs()
            .module("layers.0.q")
            .tensor("base_model.model.embed_tokens.lora_embedding_A", 2, 17)
            .tensor("base_model.model.embed_tokens.lora_embedding_B", 64, 2)
            .write(tmp.resolve("embedding"));
    assertRefused(
        dir,
        "it uses embedding LoRA (lora_embedding_A/B) (tensor"
            + " 'base_model.model.embed_tokens.lora_embedding_A')");
    try (LoraAdapter lenient = LoraAdapter.open(store, dir, UnsupportedTensors.SKIP_WITH_WARNING)) {
      assertEquals(List.of("layers.0.q"), List.copyOf(lenient.modules().keySet()));
      assertEquals(2, lenient.warnings().size());
    }
  }

  /**
   * PEFT loads a saved adapter with strict=False: the factors of a module target_modules does not
   * select are dropped unread, whatever their shapes. They are refused, or left out as PEFT does.
   */
  @Test
  void factorsOfModulesOutsideTargetModulesAreRefusedOrLeftOut() throws IOException {
    String dir =
        new AdapterDirs()
            .module("layers.0.q")
            .module("layers.0.k")
            .module("layers.0.v")
            .module("layers.1.o")
            .tensor("base_model.model.layers.2.k.lora_A.weight", 5, 3)
            .write(tmp.resolve("untargeted"));
    assertRefused(
        dir,
        "it uses LoRA factors of modules outside target_modules [\"q\"] (4 modules: layers.0.k,"
            + " layers.0.v, layers.1.o and 1 more; PEFT would not apply them)");
    try (LoraAdapter lenient = LoraAdapter.open(store, dir, UnsupportedTensors.SKIP_WITH_WARNING)) {
      assertEquals(List.of("layers.0.q"), List.copyOf(lenient.modules().keySet()));
      List<String> expected = new ArrayList<>();
      for (String module : List.of("layers.0.k", "layers.0.v", "layers.1.o", "layers.2.k")) {
        expected.add(
            "Adapter "
                + dir
                + ": left out module "
                + module
                + ", which target_modules [\"q\"] does not select; PEFT does not apply it either.");
      }
      assertEquals(expected, lenient.warnings());
    }
  }

  @Test
  void layersToTransformNarrowsTheTargetsAsInPeft() throws IOException {
    String dir =
        new AdapterDirs()
            .config(
                "{\"peft_type\":\"LORA\",\"r\":2,\"target_modules\":[\"q\"],"
                    + "\"layers_to_transform\":[1]}")
            .module("model.layers.0.q")
            .module("model.layers.1.q")
            .write(tmp.resolve("layers"));
    assertRefused(
        dir,
        "outside target_modules [\"q\"], layers_to_transform [1] (1 module: model.layers.0.q;");
  }

  @Test
  void anAdapterWhoseFactorsAreAllOutsideItsTargetsHasNothingToMerge() throws IOException {
    String dir = new AdapterDirs().module("layers.0.k").write(tmp.resolve("none"));
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () -> LoraAdapter.open(store, dir, UnsupportedTensors.SKIP_WITH_WARNING));
    assertEquals(
        "Cannot open adapter "
            + dir
            + ": it has no LoRA factors of the modules target_modules [\"q\"] selects.",
        e.getMessage());
  }

  @Test
  void aScalingBeyondFloat32IsRefusedNamingTheModuleAndKey() throws IOException {
    String alpha =
        new AdapterDirs()
            .config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":1e308}")
            .module("layers.0.q")
            .write(tmp.resolve("alpha"));
    assertRefused(
        alpha,
        "module layers.0.q has a LoRA scaling of lora_alpha / r = 1.0E308 / 2 = 5.0E307, beyond"
            + " float32's largest value (3.4028235E38), in which PEFT applies it: every update of"
            + " the adapter would be infinite. Correct lora_alpha in adapter_config.json.");
    String pattern =
        new AdapterDirs()
            .config(
                "{\"peft_type\":\"LORA\",\"r\":4,\"use_rslora\":true,\"rank_pattern\":{\"q\":2},"
                    + "\"alpha_pattern\":{\"q\":1e39}}")
            .module("layers.0.q")
            .write(tmp.resolve("pattern"));
    assertRefused(
        pattern,
        "module layers.0.q has a LoRA scaling of alpha_pattern \"q\" / sqrt(r) = 1.0E39 / sqrt(2) ="
            + " 7.071067811865474E38, beyond float32's largest value (3.4028235E38)");
    String fits =
        new AdapterDirs()
            .config("{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":6e38}")
            .module("layers.0.q")
            .write(tmp.resolve("fits"));
    try (LoraAdapter adapter = LoraAdapter.open(store, fits)) {
      assertEquals(3e38, adapter.modules().get("layers.0.q").scale());
    }
  }

  @Test
  void modulesToSaveRefused() throws IOException {
    String dir =
        new AdapterDirs()
            .module("layers.0.q")
            .tensor("base_model.model.score.modules_to_save.default.weight", 3, 4)
            .write(tmp.resolve("save"));
    assertRefused(
        dir,
        "it uses modules_to_save (a fully trained copy of a module) (tensor"
            + " 'base_model.model.score.modules_to_save.default.weight')");
  }

  @Test
  void unknownTensorRefused() throws IOException {
    String dir =
        new AdapterDirs()
            .module("layers.0.q")
            .tensor("something.else", 2)
            .write(tmp.resolve("unknown"));
    assertRefused(dir, "it uses a tensor that is not a LoRA factor (tensor 'something.else')");
  }

  @Test
  void pickledAdapterRefused() throws IOException {
    Path dir = tmp.resolve("pickle");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(LoraAdapter.CONFIG_FILE), AdapterDirs.LORA_CONFIG);
    Files.write(dir.resolve("adapter_model.bin"), new byte[] {(byte) 0x80, 2, 0x7d});
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> LoraAdapter.open(store, dir.toString()));
    assertEquals(
        "Cannot open adapter directory "
            + dir
            + ": it contains pickled weights (adapter_model.bin) and no"
            + " safetensors; pickles are never loaded. Convert with `safetensors`' convert script or"
            + " save_pretrained(safe_serialization=True).",
        e.getMessage());
  }

  @Test
  void missingFilesNamed() throws IOException {
    Path dir = tmp.resolve("bare");
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(LoraAdapter.CONFIG_FILE), AdapterDirs.LORA_CONFIG);
    assertRefused(
        dir.toString(),
        "it has no adapter_model.safetensors. Save the adapter with"
            + " save_pretrained(safe_serialization=True).");
    String noConfig = new AdapterDirs().module("layers.0.q").write(tmp.resolve("noconfig"));
    Files.delete(Path.of(noConfig, LoraAdapter.CONFIG_FILE));
    assertRefused(noConfig, "it has no adapter_config.json.");
    assertRefused(tmp.resolve("absent").toString(), "the directory does not exist.");
  }

  @Test
  void peftTypeMustBeLora() throws IOException {
    String dir =
        new AdapterDirs()
            .config("{\"peft_type\":\"LOHA\",\"r\":2}")
            .module("layers.0.q")
            .write(tmp.resolve("loha"));
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> LoraAdapter.open(store, dir));
    assertEquals(
        "Cannot load adapter config "
            + Path.of(dir, LoraAdapter.CONFIG_FILE)
            + ": peft_type is \"LOHA\","
            + " but only LORA adapters can be merged.",
        e.getMessage());
  }

  @Test
  void nanInFactorNamesTensorAndIndex() throws IOException {
    String dir = new AdapterDirs().module("layers.0.q").write(tmp.resolve("nan"));
    Path weights = Path.of(dir, LoraAdapter.WEIGHTS_FILE);
    try (LoraAdapter adapter = LoraAdapter.open(store, dir)) {
      LoraModule m = adapter.modules().get("layers.0.q");
      long position = adapter.header().dataOffset() + m.b().begin() + 4L * 5;
      try (var channel = Files.newByteChannel(weights, StandardOpenOption.WRITE)) {
        channel.position(position);
        channel.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, Float.NaN));
      }
      adapter.readA(m);
      FileFormatException e = assertThrows(FileFormatException.class, () -> adapter.readB(m));
      assertEquals(
          "Cannot use adapter "
              + dir
              + ": tensor 'base_model.model.layers.0.q.lora_B.weight' has NaN at"
              + " index 5 (row 2, column 1). The adapter is corrupt or its training diverged; retrain it or leave it out.",
          e.getMessage());
    }
  }

  private void assertRefused(String dir, String reason) {
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> LoraAdapter.open(store, dir));
    assertTrue(e.getMessage().startsWith("Cannot open adapter " + dir + ": "), e.getMessage());
    assertTrue(
        e.getMessage().contains(reason), () -> "expected \"" + reason + "\" in: " + e.getMessage());
  }
}
