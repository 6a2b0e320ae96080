package dev.knots.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.job.LocalRuns;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergedModule;
import dev.knots.job.ModuleAligner;
import dev.knots.job.OutputFormat;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Adapters that cannot be merged together fail before any tensor is read, saying why. */
class AdapterSetTest {
  @TempDir Path temp;

  @Test
  void opensTheFixtureSetWithTheUnionOfModules() throws IOException {
    AdapterSet set = open(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip"));
    assertEquals(12, set.modules().size());
    ModuleSpec q = set.modules().get(2);
    assertEquals("layers.0.self_attn.q_proj", q.key());
    assertEquals(64, q.out());
    assertEquals(8 + 4, q.totalRank());
  }

  @Test
  void aModuleOnlySomeAdaptersAdaptCountsAsZeroForTheOthers() throws IOException {
    Path partial =
        copyAdapter("hflip", "partial", config -> config, name -> !name.contains("layers.2."));
    AdapterSet set = open(Fixtures.path("adapters/rot90"), partial.toString());
    ModuleSpec layer2 =
        set.modules().stream()
            .filter(m -> m.key().startsWith("layers.2."))
            .findFirst()
            .orElseThrow();
    assertTrue(layer2.source(0).isPresent());
    assertTrue(layer2.source(1).isEmpty());
    assertEquals(12, set.modules().size());
  }

  /**
   * An adapter whose file holds factors of modules its target_modules does not select is refused;
   * with --skip-unsupported it merges exactly as the adapter holding only its targeted modules,
   * which is what PEFT applies.
   */
  @Test
  void factorsOutsideTargetModulesAreRefusedOrMergedAsPeftAppliesThem() throws IOException {
    UnaryOperator<ObjectNode> qOnly =
        config -> {
          config.putArray("target_modules").add("q_proj");
          return config;
        };
    Path extra = copyAdapter("rot90", "q-targets", qOnly, name -> true);
    Path restricted = copyAdapter("rot90", "q-factors", qOnly, name -> name.contains(".q_proj."));
    String hflip = Fixtures.path("adapters/hflip");
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> open(extra.toString(), hflip));
    assertTrue(
        e.getMessage()
            .startsWith(
                "Cannot open adapter "
                    + extra
                    + ": it uses LoRA factors of modules outside target_modules [\"q_proj\"] (9"
                    + " modules: layers.0.self_attn.k_proj, layers.0.self_attn.o_proj,"
                    + " layers.0.self_attn.v_proj and 6 more; PEFT would not apply them)"),
        e.getMessage());

    AdapterSet lenient =
        AdapterSet.open(
            Fixtures.STORE,
            List.of(extra.toString(), hflip),
            LoraAdapter.UnsupportedTensors.SKIP_WITH_WARNING);
    assertEquals(9, lenient.warnings().size(), lenient.warnings().toString());
    List<MergedModule> merged = knotsTies(lenient);
    List<MergedModule> expected = knotsTies(open(restricted.toString(), hflip));
    assertEquals(12, merged.size());
    for (int m = 0; m < expected.size(); m++) {
      // the same factors in the same order: the same bits (tolerance 0)
      assertEquals(expected.get(m).key(), merged.get(m).key());
      assertArrayEquals(expected.get(m).b().data, merged.get(m).b().data, 0.0);
      assertArrayEquals(expected.get(m).a().data, merged.get(m).a().data, 0.0);
    }
  }

  /** knots-ties with top-K 20 in global scope, whose thresholds span every module of a task. */
  private static List<MergedModule> knotsTies(AdapterSet set) throws IOException {
    MergeRequest request =
        new MergeRequest(
            set.locations(),
            MergeMethods.byName("knots-ties"),
            MergeParameters.defaults().withTopK(20),
            Concat.OUTPUT,
            "out",
            OutputFormat.ADAPTER,
            Optional.empty());
    return LocalRuns.merge(
        request, Planner.plan(set, request.method(), request.concat()), Fixtures.STORE);
  }

  @Test
  void differentBaseModelsAreRefused() throws IOException {
    Path other =
        copyAdapter(
            "hflip",
            "other-base",
            c -> c.put("base_model_name_or_path", "meta-llama/Llama-3-8B"),
            n -> true);
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () -> open(Fixtures.path("adapters/rot90"), other.toString()));
    assertTrue(e.getMessage().contains("different base models"), e.getMessage());
    assertTrue(e.getMessage().contains("meta-llama/Llama-3-8B"), e.getMessage());
    assertTrue(e.getMessage().contains(other.toString()), e.getMessage());
  }

  @Test
  void adaptersDisagreeingOnAModuleShapeAreRefused() throws IOException {
    Path wide = temp.resolve("wide");
    Files.createDirectories(wide);
    Files.copy(
        Path.of(Fixtures.path("adapters/hflip/adapter_config.json")),
        wide.resolve("adapter_config.json"));
    // q_proj of layer 0 claims 48 output features instead of 64.
    String a = "base_model.model.layers.0.self_attn.q_proj.lora_A.weight";
    String b = "base_model.model.layers.0.self_attn.q_proj.lora_B.weight";
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            Fixtures.STORE.outputFile(wide.resolve("adapter_model.safetensors").toString()),
            List.of(TensorSpec.matrix(a, DType.F32, 4, 64), TensorSpec.matrix(b, DType.F32, 48, 4)),
            Map.of())) {
      writer.write(a, new double[4 * 64]);
      writer.write(b, new double[48 * 4]);
    }
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () -> open(Fixtures.path("adapters/rot90"), wide.toString()));
    assertTrue(e.getMessage().contains("layers.0.self_attn.q_proj"), e.getMessage());
    assertTrue(e.getMessage().contains("48 x 64"), e.getMessage());
  }

  @Test
  void nanInAFactorFailsTheAlignNamingAdapterAndTensor() throws IOException {
    Path broken = copyAdapter("hflip", "nan", c -> c, n -> true);
    String tensor = "base_model.model.layers.1.self_attn.v_proj.lora_B.weight";
    Fixtures.setFloat32(broken.resolve("adapter_model.safetensors"), tensor, 5, Double.NaN);
    AdapterSet set = open(Fixtures.path("adapters/rot90"), broken.toString());
    ModuleSpec v1 =
        set.modules().stream()
            .filter(m -> m.key().equals("layers.1.self_attn.v_proj"))
            .findFirst()
            .orElseThrow();
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () ->
                ModuleAligner.align(
                    new ModulePlan(v1, AlignPath.FACTOR, "test"), Concat.OUTPUT, Fixtures.STORE));
    assertTrue(e.getMessage().contains(tensor), e.getMessage());
    assertTrue(e.getMessage().contains("NaN"), e.getMessage());
    assertTrue(e.getMessage().contains(broken.toString()), e.getMessage());
  }

  /**
   * A LoRA scaling within float32's range (2.4e39 / 8 = 3e38) times factors that are large enough
   * overflows float32: the align step fails naming the adapter and module, on either path.
   */
  @Test
  void anUpdateBeyondFloat32FailsTheAlignNamingAdapterAndModule() throws IOException {
    Path huge =
        copyAdapter(
            "rot90",
            "huge",
            config -> {
              config.put("lora_alpha", 2.4e39);
              return config;
            },
            name -> true);
    String tensor = "base_model.model.layers.1.self_attn.v_proj.lora_B.weight";
    Fixtures.setFloat32(huge.resolve("adapter_model.safetensors"), tensor, 0, 1000);
    AdapterSet set = open(huge.toString(), Fixtures.path("adapters/hflip"));
    ModuleSpec v1 =
        set.modules().stream()
            .filter(m -> m.key().equals("layers.1.self_attn.v_proj"))
            .findFirst()
            .orElseThrow();
    for (AlignPath path : List.of(AlignPath.FACTOR, AlignPath.NONE)) {
      FileFormatException e =
          assertThrows(
              FileFormatException.class,
              () ->
                  ModuleAligner.align(
                      new ModulePlan(v1, path, "test"), Concat.OUTPUT, Fixtures.STORE));
      assertEquals(
          "Cannot use adapter "
              + huge
              + ": its update of module layers.1.self_attn.v_proj (LoRA scaling 3.0E38 x lora_B @"
              + " lora_A)"
              + (path == AlignPath.FACTOR ? ", aligned by KnOTS," : "")
              + " is beyond float32's range (an entry above 3.4028235E38 in magnitude), in"
              + " which the merge holds the updates. Its lora_alpha or its factors are far too"
              + " large: correct lora_alpha in adapter_config.json, or retrain the adapter or leave"
              + " it out.",
          e.getMessage(),
          path.label());
    }
  }

  @Test
  void pickledAdapterIsRefusedPointingAtSafetensors() throws IOException {
    Path pickled = temp.resolve("pickled");
    Files.createDirectories(pickled);
    Files.copy(
        Path.of(Fixtures.path("adapters/hflip/adapter_config.json")),
        pickled.resolve("adapter_config.json"));
    Files.write(pickled.resolve("adapter_model.bin"), new byte[] {(byte) 0x80, 2});
    FileFormatException e = assertThrows(FileFormatException.class, () -> open(pickled.toString()));
    assertTrue(e.getMessage().contains("adapter_model.bin"), e.getMessage());
    assertTrue(e.getMessage().contains("safetensors"), e.getMessage());
  }

  @Test
  void requestNeedsABaseForModelOutputAndOneScalingPerAdapter() {
    List<String> two = List.of(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip"));
    InvalidOptionException noBase =
        assertThrows(
            InvalidOptionException.class,
            () ->
                new MergeRequest(
                    two,
                    MergeMethods.byName("ties"),
                    MergeParameters.defaults(),
                    Concat.OUTPUT,
                    "out",
                    OutputFormat.MODEL,
                    Optional.empty()));
    assertEquals("--format", noBase.option());
    assertTrue(noBase.getMessage().contains("--base"), noBase.getMessage());
    InvalidOptionException scaling =
        assertThrows(
            InvalidOptionException.class,
            () ->
                new MergeRequest(
                    two,
                    MergeMethods.byName("ties"),
                    MergeParameters.defaults().withScaling(List.of(1.0, 0.5, 0.2)),
                    Concat.OUTPUT,
                    "out",
                    OutputFormat.ADAPTER,
                    Optional.empty()));
    assertEquals("--scaling", scaling.option());
    MergeRequest twice =
        new MergeRequest(
            List.of(two.get(0), two.get(0)),
            MergeMethods.byName("ties"),
            MergeParameters.defaults(),
            Concat.OUTPUT,
            "out",
            OutputFormat.ADAPTER,
            Optional.empty());
    InvalidOptionException duplicate =
        assertThrows(InvalidOptionException.class, () -> twice.checkLocations(Fixtures.STORE));
    assertTrue(duplicate.getMessage().contains("are the same directory"), duplicate.getMessage());
  }

  private AdapterSet open(String... adapters) throws IOException {
    return AdapterSet.open(
        Fixtures.STORE, List.of(adapters), LoraAdapter.UnsupportedTensors.REFUSE);
  }

  private interface NameFilter {
    boolean keep(String tensor);
  }

  /** A copy of a fixture adapter with its config edited and only some tensors kept. */
  private Path copyAdapter(
      String task, String name, UnaryOperator<ObjectNode> editConfig, NameFilter keep)
      throws IOException {
    Path source = Path.of(Fixtures.path("adapters/" + task));
    Path dir = temp.resolve(name);
    Files.createDirectories(dir);
    ObjectMapper json = new ObjectMapper();
    ObjectNode config = (ObjectNode) json.readTree(source.resolve("adapter_config.json").toFile());
    json.writeValue(dir.resolve("adapter_config.json").toFile(), editConfig.apply(config));
    var input = Fixtures.STORE.inputFile(source.resolve("adapter_model.safetensors").toString());
    SafetensorsHeader header = SafetensorsHeader.read(input);
    List<TensorSpec> specs = new ArrayList<>();
    for (TensorInfo t : header.tensors()) {
      if (keep.keep(t.name())) {
        specs.add(TensorSpec.of(t));
      }
    }
    try (SafetensorsReader reader = new SafetensorsReader(input, header);
        SafetensorsWriter writer =
            SafetensorsWriter.open(
                Fixtures.STORE.outputFile(dir.resolve("adapter_model.safetensors").toString()),
                specs,
                Map.of())) {
      for (TensorSpec spec : specs) {
        writer.writeRaw(spec.name(), reader.readRaw(spec.name()));
      }
    }
    return dir;
  }
}
