package dev.knots.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.bench.SyntheticAdapters.Module;
import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.LocalFileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.peft.LoraModule;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.FloatConversions;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.job.ModelWriter;
import dev.knots.plan.AdapterSet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SyntheticAdaptersTest {

  /** 3 adapters, 2 layers, hidden 64, kv 32, rank 4, alpha 8 (scale 2), float32, seed 7. */
  private static final Spec TINY = new Spec(3, 2, 64, 32, 4, 8, DType.F32, 7);

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Test
  void loraAdapterReadsBackShapesScaleAndSeededValues() throws IOException {
    List<String> dirs = SyntheticAdapters.writeSet(store, tmp.toString(), TINY, false);
    assertEquals(3, dirs.size());
    for (int t = 0; t < dirs.size(); t++) {
      assertEquals(tmp.resolve(SyntheticAdapters.adapterName(t)).toString(), dirs.get(t));
      try (LoraAdapter adapter = LoraAdapter.open(store, dirs.get(t))) {
        assertEquals(8, adapter.modules().size(), "2 layers x q/k/v/o");
        assertEquals("synthetic/llama-3-8b", adapter.config().baseModelNameOrPath());
        assertEquals("CAUSAL_LM", adapter.config().taskType());
        assertEquals(SyntheticAdapters.MODULES, adapter.config().targets().modules());
        for (Module m : SyntheticAdapters.modules(TINY)) {
          LoraModule module = adapter.modules().get(m.key());
          boolean narrow = m.key().endsWith("k_proj") || m.key().endsWith("v_proj");
          assertEquals(narrow ? 32 : 64, module.out(), m.key());
          assertEquals(64, module.in(), m.key());
          assertEquals(4, module.rank(), m.key());
          assertEquals(2.0, module.scale(), m.key());
          assertEquals("base_model.model." + m.key() + ".lora_A.weight", module.a().name());
          assertEquals(DType.F32, module.a().dtype());
          assertArrayEquals(
              asFloat(SyntheticAdapters.factor(TINY, t, m, 'A')),
              adapter.readA(module),
              0.0,
              m.key());
          assertArrayEquals(
              asFloat(SyntheticAdapters.factor(TINY, t, m, 'B')),
              adapter.readB(module),
              0.0,
              m.key());
        }
      }
    }
    assertTrue(adapterKeys(dirs.get(0)).contains("model.layers.1.self_attn.o_proj"));
  }

  @Test
  void valuesHavePlausibleLoraMagnitudes() {
    List<Module> modules = SyntheticAdapters.modules(TINY);
    double a = std(modules.stream().map(m -> SyntheticAdapters.factor(TINY, 0, m, 'A')).toList());
    double b = std(modules.stream().map(m -> SyntheticAdapters.factor(TINY, 0, m, 'B')).toList());
    assertEquals(1 / Math.sqrt(64), a, 0.1 / Math.sqrt(64), "std of A = 1/sqrt(in)");
    assertEquals(0.01, b, 0.001, "std of B");
  }

  @Test
  void sameSeedGivesIdenticalBytesAndOtherSeedsOrAdaptersDiffer() throws IOException {
    Path first = tmp.resolve("first");
    Path again = tmp.resolve("again");
    Path other = tmp.resolve("other");
    SyntheticAdapters.writeSet(store, first.toString(), TINY, false);
    SyntheticAdapters.writeSet(store, again.toString(), TINY, false);
    SyntheticAdapters.writeSet(
        store, other.toString(), new Spec(3, 2, 64, 32, 4, 8, DType.F32, 8), false);
    for (int t = 0; t < TINY.adapters(); t++) {
      String name = SyntheticAdapters.adapterName(t);
      for (String file : List.of(LoraAdapter.WEIGHTS_FILE, LoraAdapter.CONFIG_FILE)) {
        assertEquals(
            -1,
            Files.mismatch(first.resolve(name).resolve(file), again.resolve(name).resolve(file)),
            file);
      }
      assertNotEquals(
          -1,
          Files.mismatch(
              first.resolve(name).resolve(LoraAdapter.WEIGHTS_FILE),
              other.resolve(name).resolve(LoraAdapter.WEIGHTS_FILE)),
          "another seed, other values");
      assertEquals(
          -1,
          Files.mismatch(
              first.resolve(name).resolve(LoraAdapter.CONFIG_FILE),
              other.resolve(name).resolve(LoraAdapter.CONFIG_FILE)),
          "the config does not depend on the seed");
    }
    assertNotEquals(
        -1,
        Files.mismatch(
            first.resolve("adapter-00").resolve(LoraAdapter.WEIGHTS_FILE),
            first.resolve("adapter-01").resolve(LoraAdapter.WEIGHTS_FILE)),
        "adapters differ");
  }

  @Test
  void tensorBytesMatchTheSpec() throws IOException {
    String dir = SyntheticAdapters.writeSet(store, tmp.toString(), TINY, false).get(0);
    try (LoraAdapter adapter = LoraAdapter.open(store, dir)) {
      long bytes = adapter.header().tensors().stream().mapToLong(TensorInfo::byteLength).sum();
      assertEquals(TINY.adapterTensorBytes(), bytes);
      assertEquals(
          2L * 4 * 4 * (64 + 64 + 64 + 32 + 64 + 32 + 64 + 64),
          bytes,
          "rank x (in + out) x 4 bytes");
    }
  }

  @Test
  void bfloat16FactorsAreRoundedFromTheSameValues() throws IOException {
    Spec bf16 = new Spec(1, 1, 64, 32, 4, 8, DType.BF16, 7);
    String dir = SyntheticAdapters.writeSet(store, tmp.toString(), bf16, false).get(0);
    Module q = SyntheticAdapters.modules(bf16).get(0);
    try (LoraAdapter adapter = LoraAdapter.open(store, dir)) {
      LoraModule module = adapter.modules().get(q.key());
      assertEquals(DType.BF16, module.a().dtype());
      double[] expected = SyntheticAdapters.factor(bf16, 0, q, 'A');
      for (int i = 0; i < expected.length; i++) {
        expected[i] =
            FloatConversions.bfloat16ToFloat(FloatConversions.doubleToBFloat16(expected[i]));
      }
      assertArrayEquals(expected, adapter.readA(module), 0.0);
    }
  }

  @Test
  void aCompleteSetIsRecognisedAndReused() throws IOException {
    String dir = tmp.resolve("set").toString();
    assertFalse(SyntheticAdapters.isComplete(store, dir, TINY, false));
    SyntheticAdapters.ensureSet(store, dir, TINY, false, false);
    assertTrue(SyntheticAdapters.isComplete(store, dir, TINY, false));
    assertFalse(SyntheticAdapters.isComplete(store, dir, TINY, true), "no base model was written");
    assertFalse(
        SyntheticAdapters.isComplete(
            store, dir, new Spec(3, 2, 64, 32, 4, 8, DType.F32, 8), false));
    Path weights = tmp.resolve("set/adapter-00").resolve(LoraAdapter.WEIGHTS_FILE);
    long modified = Files.getLastModifiedTime(weights).toMillis();
    Files.writeString(tmp.resolve("set/adapter-00/extra"), "kept when reused");
    SyntheticAdapters.ensureSet(store, dir, TINY, false, false);
    assertTrue(Files.exists(tmp.resolve("set/adapter-00/extra")), "reused, not rewritten");
    assertEquals(modified, Files.getLastModifiedTime(weights).toMillis());
    SyntheticAdapters.ensureSet(store, dir, TINY, false, true);
    assertFalse(Files.exists(tmp.resolve("set/adapter-00/extra")), "--overwrite rewrites");
  }

  @Test
  void theJobAcceptsTheSetAndTheBaseModel() throws IOException {
    List<String> dirs = SyntheticAdapters.writeSet(store, tmp.toString(), TINY, true);
    AdapterSet set = AdapterSet.open(store, dirs, LoraAdapter.UnsupportedTensors.REFUSE);
    assertEquals(8, set.modules().size());
    HfModelFiles base =
        HfModelFiles.open(store, tmp.resolve(SyntheticAdapters.BASE_DIR).toString());
    ModelWriter.checkCompatible(base, set.modules(), false);
    TensorInfo k = base.require("model.layers.1.self_attn.k_proj.weight").info();
    assertArrayEquals(new long[] {32, 64}, k.shape());
    assertEquals(DType.BF16, k.dtype());
    assertEquals(
        2 * 6 + 1, base.tensors().size(), "4 attention weights and 2 norms per layer, final norm");
    assertTrue(Files.exists(tmp.resolve("base/config.json")));
  }

  @Test
  void commandLineDefaultsAreLlama3_8bAttention() {
    SyntheticAdapters.Options o = SyntheticAdapters.Options.parse("--out", "x");
    assertEquals(Spec.llama3_8b(), o.spec);
    assertEquals(
        54_525_952L,
        o.spec.adapterTensorBytes(),
        "32 layers x 16 x (8192 + 5120 + 5120 + 8192) x 4 bytes");
    SyntheticAdapters.Options tiny =
        SyntheticAdapters.Options.parse(
            "--out",
            "y",
            "--adapters",
            "3",
            "--layers",
            "2",
            "--hidden",
            "64",
            "--kv",
            "32",
            "--rank",
            "4",
            "--seed",
            "7",
            "--base-model",
            "--overwrite");
    assertEquals(TINY, tiny.spec, "alpha defaults to 2 x rank");
    assertTrue(tiny.baseModel && tiny.overwrite);
    assertEquals(
        DType.BF16, SyntheticAdapters.Options.parse("--out", "x", "--dtype", "bf16").spec.dtype());
    assertNull(SyntheticAdapters.Options.parse("--help"));
    IllegalArgumentException missing =
        assertThrows(
            IllegalArgumentException.class, () -> SyntheticAdapters.Options.parse("--layers", "2"));
    assertEquals("--out DIR is required", missing.getMessage());
    IllegalArgumentException rank =
        assertThrows(
            IllegalArgumentException.class,
            () -> SyntheticAdapters.Options.parse("--out", "x", "--kv", "8", "--rank", "16"));
    assertTrue(rank.getMessage().contains("rank must not exceed"), rank.getMessage());
  }

  private List<String> adapterKeys(String dir) throws IOException {
    try (LoraAdapter adapter = LoraAdapter.open(store, dir)) {
      return List.copyOf(adapter.modules().keySet());
    }
  }

  private static double[] asFloat(double[] values) {
    double[] out = new double[values.length];
    for (int i = 0; i < values.length; i++) {
      out[i] = (float) values[i];
    }
    return out;
  }

  private static double std(List<double[]> arrays) {
    double sum = 0;
    double squares = 0;
    long n = 0;
    for (double[] values : arrays) {
      for (double v : values) {
        sum += v;
        squares += v * v;
        n++;
      }
    }
    double mean = sum / n;
    return Math.sqrt(squares / n - mean * mean);
  }
}
