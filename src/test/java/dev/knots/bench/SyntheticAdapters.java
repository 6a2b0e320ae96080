package dev.knots.bench;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.LocalFileStore;
import dev.knots.io.Storage;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Writes synthetic PEFT LoRA adapters shaped like the attention of a Llama model, for benchmarks
 * and tests; optionally a matching synthetic base model.
 *
 * <p>Each adapter directory holds {@code adapter_model.safetensors} with, for every layer {@code i}
 * and module {@code m} of q/k/v/o_proj, {@code
 * base_model.model.model.layers.<i>.self_attn.<m>.lora_A.weight} ({@code rank x in}) and {@code
 * .lora_B.weight} ({@code out x rank}), and then {@code adapter_config.json} as PEFT 0.21 writes it
 * for a causal LM. q/o_proj are {@code hidden x hidden}, k/v_proj {@code kv x hidden}
 * (grouped-query attention).
 *
 * <p>Values are Gaussian with plausible trained-LoRA magnitudes: A has standard deviation {@code
 * 1/sqrt(in)} (PEFT initialises A uniformly at about that scale), B has 0.01 (B starts at zero and
 * stays small). Every tensor has its own stream seeded from (seed, adapter, module key, factor)
 * only, so the bytes do not depend on write order: same spec, identical files.
 *
 * <p>The set's root gets {@code synthetic.json} (the spec) last, so a complete set can be
 * recognised and reused.
 */
public final class SyntheticAdapters {

  /** The attention modules of a Llama layer. */
  public static final List<String> MODULES = List.of("q_proj", "k_proj", "v_proj", "o_proj");

  /** Written last in the set's root; holds the spec. */
  public static final String MARKER_FILE = "synthetic.json";

  /** Directory of the base model inside the set, when one is written. */
  public static final String BASE_DIR = "base";

  static final double B_STD = 0.01;

  private SyntheticAdapters() {}

  /**
   * The shape and values of a synthetic set.
   *
   * @param adapters number of adapters
   * @param layers decoder layers
   * @param hidden hidden size: q/o_proj are {@code hidden x hidden}
   * @param kv key/value width: k/v_proj are {@code kv x hidden}
   * @param rank LoRA rank {@code r} of every module
   * @param alpha {@code lora_alpha}; PEFT scales the update by {@code alpha / rank}
   * @param dtype element type of the factors: F32 or BF16
   * @param seed seed of all values
   */
  public record Spec(
      int adapters,
      int layers,
      int hidden,
      int kv,
      int rank,
      double alpha,
      DType dtype,
      long seed) {

    public Spec {
      if (adapters < 1 || layers < 1 || hidden < 1 || kv < 1 || rank < 1) {
        throw new IllegalArgumentException(
            "Cannot generate adapters with adapters="
                + adapters
                + ", layers="
                + layers
                + ", hidden="
                + hidden
                + ", kv="
                + kv
                + ", rank="
                + rank
                + ": all must be positive.");
      }
      if (rank > Math.min(hidden, kv)) {
        throw new IllegalArgumentException(
            "Cannot generate adapters of rank "
                + rank
                + " for modules of width "
                + Math.min(hidden, kv)
                + ": the rank must not exceed the smaller side.");
      }
      if (dtype != DType.F32 && dtype != DType.BF16) {
        throw new IllegalArgumentException(
            "Cannot generate adapters as " + dtype + ": use F32 or BF16.");
      }
    }

    /**
     * Llama-3-8B attention: 6 adapters, 32 layers, hidden 4096, kv 1024, rank 16, alpha 32,
     * float32, seed 1.
     */
    public static Spec llama3_8b() {
      return new Spec(6, 32, 4096, 1024, 16, 32, DType.F32, 1);
    }

    /** PEFT's scaling of every module: {@code alpha / rank}. */
    public double scale() {
      return alpha / rank;
    }

    /** Bytes of one adapter's weights file, without its header. */
    public long adapterTensorBytes() {
      long perLayer = 0;
      for (Module m : modules(this).subList(0, MODULES.size())) {
        perLayer += (long) rank * (m.in() + m.out());
      }
      return perLayer * layers * dtype.byteSize();
    }

    ObjectNode toJson() {
      ObjectNode json = Json.object();
      json.put("adapters", adapters)
          .put("layers", layers)
          .put("hidden", hidden)
          .put("kv", kv)
          .put("rank", rank)
          .put("alpha", alpha)
          .put("dtype", dtype.name())
          .put("seed", seed);
      return json;
    }
  }

  /**
   * One adapted module.
   *
   * @param key the module key inside the base model, e.g. {@code model.layers.0.self_attn.q_proj}
   * @param out output features (rows of B and of the base weight)
   * @param in input features (columns of A and of the base weight)
   */
  public record Module(String key, int out, int in) {}

  /** The adapted modules of {@code spec}, layer by layer, q/k/v/o within a layer. */
  public static List<Module> modules(Spec spec) {
    List<Module> modules = new ArrayList<>();
    for (int layer = 0; layer < spec.layers(); layer++) {
      for (String m : MODULES) {
        boolean narrow = m.equals("k_proj") || m.equals("v_proj");
        modules.add(
            new Module(
                "model.layers." + layer + ".self_attn." + m,
                narrow ? spec.kv() : spec.hidden(),
                spec.hidden()));
      }
    }
    return modules;
  }

  /**
   * The directory name of adapter {@code index} (0-based): {@code adapter-00}, {@code adapter-01},
   * ...
   */
  public static String adapterName(int index) {
    return String.format("adapter-%02d", index);
  }

  /**
   * The values of one factor before rounding to the spec's dtype, row-major: A is {@code rank x in}
   * with standard deviation {@code 1/sqrt(in)}, B is {@code out x rank} with 0.01.
   *
   * @param factor 'A' or 'B'
   */
  public static double[] factor(Spec spec, int adapter, Module module, char factor) {
    SplittableRandom random =
        new SplittableRandom(streamSeed(spec.seed(), adapter, module.key(), factor));
    boolean isA = factor == 'A';
    double std = isA ? 1 / Math.sqrt(module.in()) : B_STD;
    double[] values = new double[spec.rank() * (isA ? module.in() : module.out())];
    for (int i = 0; i < values.length; i++) {
      values[i] = random.nextGaussian() * std;
    }
    return values;
  }

  /**
   * Writes the whole set into {@code directory}: {@code adapter-00 ...}, the base model under
   * {@code base/} if asked, and {@code synthetic.json} last.
   *
   * @return the adapter directories, in order
   * @throws IOException naming the file if one exists already or cannot be written
   */
  public static List<String> writeSet(
      FileStore store, String directory, Spec spec, boolean withBaseModel) throws IOException {
    List<String> adapters = new ArrayList<>();
    for (int i = 0; i < spec.adapters(); i++) {
      String dir = store.resolve(directory, adapterName(i));
      writeAdapter(store, dir, spec, i);
      adapters.add(dir);
    }
    if (withBaseModel) {
      SyntheticBaseModel.write(store, store.resolve(directory, BASE_DIR), spec);
    }
    ObjectNode marker = spec.toJson();
    marker.put("baseModel", withBaseModel);
    Storage.writeAll(store.outputFile(store.resolve(directory, MARKER_FILE)), Json.pretty(marker));
    return adapters;
  }

  /**
   * Whether {@code directory} holds a complete set written by {@link #writeSet} with this spec (and
   * a base model, if {@code withBaseModel}).
   */
  public static boolean isComplete(
      FileStore store, String directory, Spec spec, boolean withBaseModel) throws IOException {
    String marker = store.resolve(directory, MARKER_FILE);
    if (!store.exists(marker)) {
      return false;
    }
    ObjectNode found = Json.parseObject(Storage.readAll(store.inputFile(marker), 1 << 16), marker);
    boolean hasBase = found.path("baseModel").asBoolean(false);
    found.remove("baseModel");
    // compared as parsed text: a long written as 7 reads back as an int node
    ObjectNode expected = Json.parseObject(Json.compact(spec.toJson()), "spec");
    return found.equals(expected) && (hasBase || !withBaseModel);
  }

  /** Writes adapter {@code index} of {@code spec} into {@code directory}: weights, then config. */
  public static void writeAdapter(FileStore store, String directory, Spec spec, int index)
      throws IOException {
    List<Module> modules = modules(spec);
    List<TensorSpec> layout = new ArrayList<>();
    for (Module m : modules) {
      layout.add(TensorSpec.matrix(tensorName(m, 'A'), spec.dtype(), spec.rank(), m.in()));
      layout.add(TensorSpec.matrix(tensorName(m, 'B'), spec.dtype(), m.out(), spec.rank()));
    }
    // safetensors' save_file orders tensors by name; so do we
    layout.sort(Comparator.comparing(TensorSpec::name));
    Map<String, Module> byTensor = new HashMap<>();
    modules.forEach(
        m -> {
          byTensor.put(tensorName(m, 'A'), m);
          byTensor.put(tensorName(m, 'B'), m);
        });
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            store.outputFile(store.resolve(directory, LoraAdapter.WEIGHTS_FILE)),
            layout,
            Map.of())) {
      for (TensorSpec tensor : layout) {
        char factor = tensor.name().endsWith(".lora_A.weight") ? 'A' : 'B';
        writer.write(tensor.name(), factor(spec, index, byTensor.get(tensor.name()), factor));
      }
    }
    Storage.writeAll(
        store.outputFile(store.resolve(directory, LoraAdapter.CONFIG_FILE)),
        Json.pretty(adapterConfig(spec)));
  }

  /** The saved name of a factor: {@code base_model.model.<key>.lora_A.weight}. */
  public static String tensorName(Module module, char factor) {
    return LoraAdapter.KEY_PREFIX + module.key() + ".lora_" + factor + ".weight";
  }

  /**
   * {@code adapter_config.json} with the keys and defaults PEFT 0.21 writes for a causal-LM LoRA.
   */
  static ObjectNode adapterConfig(Spec spec) {
    ObjectNode c = Json.object();
    c.putNull("alora_invocation_tokens");
    c.putObject("alpha_pattern");
    c.putNull("arrow_config");
    c.putNull("auto_mapping");
    c.put("base_model_name_or_path", "synthetic/llama-3-8b");
    c.put("bias", "none");
    c.putNull("corda_config");
    c.put("ensure_weight_tying", false);
    c.putNull("eva_config");
    c.putNull("exclude_modules");
    c.put("fan_in_fan_out", false);
    c.put("inference_mode", true);
    c.put("init_lora_weights", true);
    c.putNull("layer_replication");
    c.putNull("layers_pattern");
    c.putNull("layers_to_transform");
    c.putObject("loftq_config");
    if (spec.alpha() == Math.rint(spec.alpha())) {
      c.put("lora_alpha", (long) spec.alpha());
    } else {
      c.put("lora_alpha", spec.alpha());
    }
    c.put("lora_bias", false);
    c.put("lora_dropout", 0.05);
    c.putNull("megatron_config");
    c.put("megatron_core", "megatron.core");
    c.putNull("modules_to_save");
    c.put("peft_type", "LORA");
    c.put("peft_version", "0.21.0");
    c.put("qalora_group_size", 16);
    c.put("r", spec.rank());
    c.putObject("rank_pattern");
    c.putNull("revision");
    ArrayNode targets = c.putArray("target_modules");
    MODULES.forEach(targets::add);
    c.putNull("target_parameters");
    c.put("task_type", "CAUSAL_LM");
    c.putNull("trainable_token_indices");
    c.put("use_dora", false);
    c.put("use_qalora", false);
    c.put("use_rslora", false);
    return c;
  }

  /**
   * A seed for one tensor's stream, from (seed, adapter, name, factor) through SplitMix64
   * finalisers.
   */
  static long streamSeed(long seed, int adapter, String name, char factor) {
    long h = mix(seed ^ 0x9E3779B97F4A7C15L);
    h = mix(h ^ adapter);
    h = mix(h ^ name.hashCode());
    return mix(h ^ factor);
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  static final String USAGE =
      String.join(
          "\n",
          "Usage: SyntheticAdapters --out DIR [options]",
          "Writes N synthetic PEFT LoRA adapters (Llama attention shape) to DIR/adapter-00 ...",
          "  --adapters N   number of adapters (6)",
          "  --layers N     decoder layers (32)",
          "  --hidden H     hidden size; q/o_proj are H x H (4096)",
          "  --kv K         key/value width; k/v_proj are K x H (1024)",
          "  --rank R       LoRA rank (16)",
          "  --alpha A      lora_alpha (2 x rank)",
          "  --dtype T      f32 or bf16 (f32)",
          "  --seed S       seed (1)",
          "  --base-model   also write a bf16 base model (attention + norms) to DIR/base",
          "  --overwrite    delete DIR first; otherwise an existing complete set with the same spec is kept");

  /** Command line: see {@link #USAGE}. Prints the adapter directories, comma-separated. */
  public static void main(String[] args) throws IOException {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("SyntheticAdapters: " + e.getMessage() + "\n" + USAGE);
      System.exit(2);
      return;
    }
    if (o == null) {
      System.out.println(USAGE);
      return;
    }
    FileStore store = new LocalFileStore();
    List<String> adapters = ensureSet(store, o.out, o.spec, o.baseModel, o.overwrite);
    System.out.println(String.join(",", adapters));
  }

  /**
   * Writes the set unless a complete one with the same spec is already in {@code directory} (then
   * it is reused); deletes the directory first when {@code overwrite} or when it holds anything
   * else.
   *
   * @return the adapter directories, in order
   */
  public static List<String> ensureSet(
      FileStore store, String directory, Spec spec, boolean withBaseModel, boolean overwrite)
      throws IOException {
    if (!overwrite && isComplete(store, directory, spec, withBaseModel)) {
      System.err.println("SyntheticAdapters: reusing the complete set in " + directory);
      List<String> adapters = new ArrayList<>();
      for (int i = 0; i < spec.adapters(); i++) {
        adapters.add(store.resolve(directory, adapterName(i)));
      }
      return adapters;
    }
    store.deleteRecursively(directory);
    long start = System.nanoTime();
    List<String> adapters = writeSet(store, directory, spec, withBaseModel);
    System.err.printf(
        "SyntheticAdapters: wrote %d adapters (%d layers, hidden %d, kv %d, rank %d, %s) to %s in %.1f s%n",
        spec.adapters(),
        spec.layers(),
        spec.hidden(),
        spec.kv(),
        spec.rank(),
        spec.dtype(),
        directory,
        (System.nanoTime() - start) / 1e9);
    return adapters;
  }

  /** Parsed command line. */
  static final class Options {
    String out;
    Spec spec;
    boolean baseModel;
    boolean overwrite;

    /** The options, or null for --help. */
    static Options parse(String... args) {
      Spec d = Spec.llama3_8b();
      int adapters = d.adapters();
      int layers = d.layers();
      int hidden = d.hidden();
      int kv = d.kv();
      int rank = d.rank();
      Double alpha = null;
      DType dtype = d.dtype();
      long seed = d.seed();
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "-h", "--help" -> {
            return null;
          }
          case "--base-model" -> o.baseModel = true;
          case "--overwrite" -> o.overwrite = true;
          default -> {
            if (i + 1 >= args.length) {
              throw new IllegalArgumentException("unknown option or missing value: " + a);
            }
            String v = args[++i];
            switch (a) {
              case "--out" -> o.out = v;
              case "--adapters" -> adapters = Integer.parseInt(v);
              case "--layers" -> layers = Integer.parseInt(v);
              case "--hidden" -> hidden = Integer.parseInt(v);
              case "--kv" -> kv = Integer.parseInt(v);
              case "--rank" -> rank = Integer.parseInt(v);
              case "--alpha" -> alpha = Double.parseDouble(v);
              case "--seed" -> seed = Long.parseLong(v);
              case "--dtype" ->
                  dtype =
                      switch (v.toLowerCase(Locale.ROOT)) {
                        case "f32", "float32" -> DType.F32;
                        case "bf16", "bfloat16" -> DType.BF16;
                        default ->
                            throw new IllegalArgumentException(
                                "--dtype must be f32 or bf16, not " + v);
                      };
              default -> throw new IllegalArgumentException("unknown option " + a);
            }
          }
        }
      }
      if (o.out == null) {
        throw new IllegalArgumentException("--out DIR is required");
      }
      o.spec =
          new Spec(
              adapters, layers, hidden, kv, rank, alpha == null ? 2.0 * rank : alpha, dtype, seed);
      return o;
    }
  }
}
