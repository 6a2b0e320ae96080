package dev.knots.io.peft;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.OutputFile;
import dev.knots.io.Storage;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Writes merged modules as a PEFT LoRA adapter that {@code PeftModel.from_pretrained} loads.
 *
 * <p>{@code adapter_model.safetensors} holds, per module in sorted key order, {@code
 * base_model.model.<key>.lora_A.weight} ({@code rank x in}) and {@code .lora_B.weight} ({@code out
 * x rank}), float32 unless {@link #dtype} says otherwise. {@code adapter_config.json}, written last
 * as the commit marker, sets {@code r = lora_alpha =} the largest rank and, for every module of
 * another rank, a {@code rank_pattern} and {@code alpha_pattern} entry equal to that rank, so
 * PEFT's scaling is 1 and the update is exactly {@code B @ A}. Pattern keys are the module keys
 * with regex metacharacters escaped ({@code layers\.0\.self_attn\.k_proj}); a key that is a
 * dot-suffix of another module's key gets a leading {@code ^} so it matches only itself.
 */
public final class AdapterWriter {
  private static final long EXPONENT = 0x7FF0_0000_0000_0000L;

  private final FileStore store;
  private final String directory;
  private String baseModelNameOrPath;
  private String taskType;
  private boolean fanInFanOut;
  private DType dtype = DType.F32;

  private AdapterWriter(FileStore store, String directory) {
    this.store = store;
    this.directory = directory;
  }

  /** A writer into {@code directory}, which must not contain the adapter files yet. */
  public static AdapterWriter to(FileStore store, String directory) {
    return new AdapterWriter(Objects.requireNonNull(store), Objects.requireNonNull(directory));
  }

  /** Sets {@code base_model_name_or_path} (default null). */
  public AdapterWriter baseModel(String nameOrPath) {
    this.baseModelNameOrPath = nameOrPath;
    return this;
  }

  /** Sets {@code task_type} (default null). */
  public AdapterWriter taskType(String type) {
    this.taskType = type;
    return this;
  }

  /**
   * Copies {@code base_model_name_or_path}, {@code task_type} and {@code fan_in_fan_out} from the
   * config of an input adapter; the merged factors keep the inputs' orientation.
   */
  public AdapterWriter settingsFrom(AdapterConfig source) {
    this.baseModelNameOrPath = source.baseModelNameOrPath();
    this.taskType = source.taskType();
    this.fanInFanOut = source.fanInFanOut();
    return this;
  }

  /** Element type of the factors: F32 (default), F16, BF16 or F64. */
  public AdapterWriter dtype(DType type) {
    if (!type.isWritable()) {
      throw new IllegalArgumentException(
          "Cannot write adapter factors as " + type + ": use F32, F16, BF16 or F64.");
    }
    this.dtype = type;
    return this;
  }

  /**
   * Writes {@code adapter_model.safetensors} and then {@code adapter_config.json}.
   *
   * @throws IllegalArgumentException if {@code modules} is empty, a key repeats or carries the
   *     {@code base_model.model.} prefix, or a factor has a NaN or infinite value
   * @throws IOException naming the file if either file exists or cannot be written
   */
  public void write(List<MergedLoraModule> modules) throws IOException {
    writeTensors(store.outputFile(store.resolve(directory, LoraAdapter.WEIGHTS_FILE)), modules);
    writeConfig(modules.stream().map(MergedLoraModule::shape).toList());
  }

  /**
   * Writes the modules' factors as a safetensors file at {@code out}, tensors sorted by name (so
   * each layer's tensors are contiguous, and files written per layer concatenate into the adapter's
   * own order).
   */
  public void writeTensors(OutputFile out, List<MergedLoraModule> modules) throws IOException {
    Map<String, MergedLoraModule> byKey = validate(modules);
    List<TensorSpec> layout =
        tensorLayout(modules.stream().map(MergedLoraModule::shape).toList(), dtype);
    try (SafetensorsWriter weights = SafetensorsWriter.open(out, layout, Map.of())) {
      for (TensorSpec spec : layout) {
        String key =
            spec.name()
                .substring(LoraAdapter.KEY_PREFIX.length(), spec.name().lastIndexOf(".lora_"));
        MergedLoraModule m = byKey.get(key);
        weights.writeColumnMajor(spec.name(), spec.name().equals(aName(key)) ? m.a() : m.b());
      }
    }
  }

  /**
   * Writes {@code adapter_config.json} for modules of these shapes: the adapter's commit marker.
   */
  public void writeConfig(List<LoraShape> modules) throws IOException {
    if (modules.isEmpty()) {
      throw new IllegalArgumentException("Cannot write adapter " + directory + ": no modules.");
    }
    Map<String, LoraShape> byKey = new TreeMap<>();
    modules.forEach(m -> byKey.put(m.key(), m));
    Storage.writeAll(
        store.outputFile(store.resolve(directory, LoraAdapter.CONFIG_FILE)),
        Json.pretty(config(byKey)));
  }

  /**
   * The adapter's tensors, {@code lora_A} ({@code rank x in}) and {@code lora_B}, sorted by name.
   */
  public static List<TensorSpec> tensorLayout(List<LoraShape> modules, DType dtype) {
    List<TensorSpec> layout = new ArrayList<>();
    for (LoraShape m : modules) {
      layout.add(TensorSpec.matrix(aName(m.key()), dtype, m.rank(), m.in()));
      layout.add(TensorSpec.matrix(bName(m.key()), dtype, m.out(), m.rank()));
    }
    layout.sort(Comparator.comparing(TensorSpec::name));
    return layout;
  }

  /** The tensor name of a module's A factor. */
  public static String aName(String moduleKey) {
    return LoraAdapter.KEY_PREFIX + moduleKey + ".lora_A.weight";
  }

  /** The tensor name of a module's B factor. */
  public static String bName(String moduleKey) {
    return LoraAdapter.KEY_PREFIX + moduleKey + ".lora_B.weight";
  }

  private Map<String, MergedLoraModule> validate(List<MergedLoraModule> modules) {
    if (modules.isEmpty()) {
      throw new IllegalArgumentException("Cannot write adapter " + directory + ": no modules.");
    }
    Map<String, MergedLoraModule> byKey = new TreeMap<>();
    for (MergedLoraModule m : modules) {
      if (m.key().isEmpty() || m.key().startsWith(LoraAdapter.KEY_PREFIX)) {
        throw new IllegalArgumentException(
            "Cannot write module \""
                + m.key()
                + "\" to adapter "
                + directory
                + ": give the module key inside the base model, without the "
                + LoraAdapter.KEY_PREFIX
                + " prefix.");
      }
      if (byKey.put(m.key(), m) != null) {
        throw new IllegalArgumentException(
            "Cannot write adapter " + directory + ": module " + m.key() + " appears twice.");
      }
      requireFinite(m, "B", m.b(), m.out());
      requireFinite(m, "A", m.a(), m.rank());
    }
    return byKey;
  }

  /** Names a bad value by its index in the row-major tensor, as it would be stored. */
  private void requireFinite(MergedLoraModule m, String factor, double[] values, int rows) {
    if (allFinite(values)) {
      return;
    }
    int cols = values.length / rows;
    for (int i = 0; i < values.length; i++) {
      if (!Double.isFinite(values[i])) {
        throw new IllegalArgumentException(
            "Cannot write module "
                + m.key()
                + " to adapter "
                + directory
                + ": "
                + factor
                + " has "
                + values[i]
                + " at index "
                + ((long) (i % rows) * cols + i / rows)
                + ".");
      }
    }
  }

  /**
   * Whether no value is NaN or infinite: a branch-free pass over the exponent bits (all ones only
   * for those), which C2 vectorizes; the slow scan above only runs to name a bad value.
   */
  private static boolean allFinite(double[] values) {
    long nonFinite = 0;
    for (double v : values) {
      long exponent = Double.doubleToRawLongBits(v) & EXPONENT;
      nonFinite |= (exponent ^ EXPONENT) - 1;
    }
    return nonFinite >= 0;
  }

  /** The adapter_config.json content; checked by re-parsing so PEFT reads back every rank. */
  private ObjectNode config(Map<String, LoraShape> byKey) throws IOException {
    int r = byKey.values().stream().mapToInt(LoraShape::rank).max().orElseThrow();
    ObjectNode rankPattern = Json.object();
    ObjectNode alphaPattern = Json.object();
    for (LoraShape m : byKey.values()) {
      if (m.rank() != r) {
        String key = patternKey(m.key(), byKey.keySet());
        rankPattern.put(key, m.rank());
        alphaPattern.put(key, m.rank());
      }
    }
    ObjectNode config = Json.object();
    config.set("alpha_pattern", alphaPattern);
    config.put("base_model_name_or_path", baseModelNameOrPath);
    config.put("bias", "none");
    config.put("fan_in_fan_out", fanInFanOut);
    config.put("inference_mode", true);
    config.put("init_lora_weights", true);
    config.putNull("layers_pattern");
    config.putNull("layers_to_transform");
    config.put("lora_alpha", r);
    config.put("lora_dropout", 0.0);
    config.putNull("modules_to_save");
    config.put("peft_type", "LORA");
    config.put("r", r);
    config.set("rank_pattern", rankPattern);
    config.putNull("revision");
    ArrayNode targets = config.putArray("target_modules");
    byKey.keySet().forEach(targets::add);
    config.put("task_type", taskType);
    config.put("use_dora", false);
    config.put("use_rslora", false);
    checkReadBack(config, byKey);
    return config;
  }

  /**
   * The module key as a regex matching only that module under PEFT's rule {@code (.*\.)?(key)$}.
   */
  static String patternKey(String key, Iterable<String> allKeys) {
    StringBuilder escaped = new StringBuilder();
    for (char c : key.toCharArray()) {
      if ("\\.[]{}()*+-?^$|".indexOf(c) >= 0) {
        escaped.append('\\');
      }
      escaped.append(c);
    }
    for (String other : allKeys) {
      if (other.endsWith("." + key)) {
        // without the anchor, the pattern would also match that longer module
        return "^" + escaped;
      }
    }
    return escaped.toString();
  }

  private void checkReadBack(ObjectNode config, Map<String, LoraShape> byKey) throws IOException {
    AdapterConfig parsed =
        AdapterConfig.parse(Json.compact(config), directory + "/" + LoraAdapter.CONFIG_FILE);
    for (LoraShape m : byKey.values()) {
      if (parsed.rankFor(m.key()) != m.rank() || parsed.scalingFor(m.key()) != 1.0) {
        throw new IllegalStateException(
            "Cannot write adapter "
                + directory
                + ": PEFT would read module "
                + m.key()
                + " with rank "
                + parsed.rankFor(m.key())
                + " and scaling "
                + parsed.scalingFor(m.key())
                + " instead of rank "
                + m.rank()
                + " and scaling 1.");
      }
    }
  }
}
