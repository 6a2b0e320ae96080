package dev.knots.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.Fixtures;
import dev.knots.io.Json;
import dev.knots.io.peft.AdapterDirs;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.RawFiles;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The crafted inputs of the catalogue of refused inputs ({@code $BAD/<name>} in
 * docs/refused-inputs.md), one method per input, each writing it into the directory it is given.
 * Most start from the example set (examples/digits) and break one thing.
 */
final class BadInputs {
  /** A sound adapter of the example set to break; its config names the base model below. */
  private static final Path ADAPTER = Path.of("examples/digits/adapters/hflip");

  private static final Path BASE = Path.of("examples/digits/base_model");
  private static final String CONFIG = "adapter_config.json";
  private static final String WEIGHTS = "adapter_model.safetensors";
  private static final String MODEL = "model.safetensors";

  /** A factor of {@link #ADAPTER}, F32 [4, 64]. */
  private static final String LORA_A = "base_model.model.layers.2.self_attn.o_proj.lora_A.weight";

  /** A factor of {@link #ADAPTER}, F32 [64, 4]. */
  private static final String LORA_B = "base_model.model.layers.2.self_attn.o_proj.lora_B.weight";

  /** Tensors of the example base model. */
  private static final String QUERY = "layers.0.self_attn.q_proj.weight";

  private static final String KEY = "layers.0.self_attn.k_proj.weight";

  private interface Builder {
    void write(Path dir) throws IOException;
  }

  /** Every crafted input by its name under {@code $BAD}. */
  static final Map<String, Builder> ALL = new LinkedHashMap<>();

  static {
    // adapter directories
    ALL.put("adapter-config-only", BadInputs::adapterConfigOnly);
    ALL.put("adapter-pickled", BadInputs::adapterPickled);
    ALL.put("adapter-no-config", BadInputs::adapterNoConfig);
    ALL.put("config-loha", d -> adapterWithConfig(d, c -> c.put("peft_type", "LOHA")));
    ALL.put("config-no-peft-type", d -> adapterWithConfig(d, c -> c.remove("peft_type")));
    ALL.put("config-r-zero", d -> adapterWithConfig(d, c -> c.put("r", 0)));
    ALL.put("config-alpha-text", d -> adapterWithConfig(d, c -> c.put("lora_alpha", "16")));
    ALL.put("config-rank-pattern-regex", BadInputs::configRankPatternRegex);
    ALL.put("config-rslora-yes", d -> adapterWithConfig(d, c -> c.put("use_rslora", "yes")));
    ALL.put("config-targets-numbers", BadInputs::configTargetsNumbers);
    ALL.put("config-dora", d -> adapterWithConfig(d, c -> c.put("use_dora", true)));
    ALL.put("config-lora-bias", d -> adapterWithConfig(d, c -> c.put("lora_bias", true)));
    ALL.put("other-base-model", BadInputs::otherBaseModel);
    ALL.put("fan-in-fan-out", d -> adapterWithConfig(d, c -> c.put("fan_in_fan_out", true)));
    ALL.put("dora-magnitude", d -> small(d, "layers.0.q.lora_magnitude_vector", 4));
    ALL.put("embedding-lora", d -> small(d, "embed_tokens.lora_embedding_A", 2, 17));
    ALL.put("modules-to-save", d -> small(d, "score.modules_to_save.default.weight", 3, 4));
    ALL.put("lora-b-bias", d -> small(d, "layers.0.q.lora_B.bias", 4));
    ALL.put("unknown-tensor", d -> small(d, "layers.0.q.scales", 2));
    ALL.put("lora-a-only", BadInputs::loraAOnly);
    ALL.put("lora-b-only", BadInputs::loraBOnly);
    ALL.put("ranks-differ", BadInputs::ranksDiffer);
    ALL.put("rank-not-config", BadInputs::rankNotConfig);
    ALL.put("two-lora-a", BadInputs::twoLoraA);
    ALL.put("no-factors", d -> new AdapterDirs().write(d));
    ALL.put("integer-factor", BadInputs::integerFactor);
    ALL.put("other-architecture", BadInputs::otherArchitecture);
    ALL.put("nan-in-lora-a", d -> adapterWithValue(d, LORA_A, 3, Double.NaN));
    ALL.put("infinity-in-lora-b", d -> adapterWithValue(d, LORA_B, 5, Double.NEGATIVE_INFINITY));
    ALL.put(
        "targets-q-only",
        d -> adapterWithConfig(d, c -> c.putArray("target_modules").add("q_proj")));
    ALL.put("alpha-1e308", d -> adapterWithConfig(d, c -> c.put("lora_alpha", 1e308)));
    ALL.put(
        "config-nan",
        d ->
            adapterWithConfigText(
                d, t -> t.replaceFirst("\"lora_alpha\": [0-9.]+", "\"lora_alpha\": NaN")));
    ALL.put(
        "config-trailing-comma",
        d -> adapterWithConfigText(d, t -> t.replaceFirst("\\}\\s*$", ",}")));
    ALL.put(
        "tensor-name-escape",
        d ->
            adapterWithHeader(
                d,
                "{\"base_model.model.layers.0.q\\u001b[31m\\nError: forged.lora_A.weight\": {\"dtype\":"
                    + " \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}",
                24));
    // adapter weights that are no valid safetensors file
    ALL.put("weights-5-bytes", d -> adapterWithWeights(d, new byte[5]));
    ALL.put("weights-truncated", BadInputs::weightsTruncated);
    ALL.put("header-past-end", d -> adapterWithHeaderLength(d, 1L << 20));
    ALL.put("header-over-limit", d -> adapterWithHeaderLength(d, 1L << 40));
    ALL.put("header-not-utf8", BadInputs::headerNotUtf8);
    ALL.put("dtype-unknown", d -> adapterWithHeader(d, entry("F128", "[2, 3]", "[0, 96]"), 96));
    ALL.put("dtype-missing", BadInputs::dtypeMissing);
    ALL.put("shape-negative", d -> adapterWithHeader(d, entry("F32", "[-2, 3]", "[0, 24]"), 24));
    ALL.put("offsets-short", d -> adapterWithHeader(d, entry("F32", "[2, 3]", "[0, 16]"), 16));
    ALL.put("offsets-overlap", BadInputs::offsetsOverlap);
    ALL.put("offsets-hole", d -> adapterWithHeader(d, entry("F32", "[2, 3]", "[8, 32]"), 32));
    ALL.put("trailing-bytes", d -> adapterWithHeader(d, entry("F32", "[2, 3]", "[0, 24]"), 32));
    // model directories: fine-tuned checkpoints and bases
    ALL.put("model-pickled", BadInputs::modelPickled);
    ALL.put("model-empty", Files::createDirectories);
    ALL.put("ft-missing-norm", d -> model(d, l -> without(l, "norm.weight")));
    ALL.put("ft-extra-tensor", d -> model(d, l -> with(l, "lm_head.weight", DType.F32, 17, 64)));
    ALL.put("ft-wide-q", d -> model(d, l -> replaced(l, QUERY, DType.F32, 64, 65)));
    ALL.put("ft-integer-q", d -> model(d, l -> replaced(l, QUERY, DType.I32, 64, 64)));
    ALL.put("model-nan", BadInputs::modelWithNaN);
    ALL.put("ft-truncated", BadInputs::checkpointTruncated);
    ALL.put("shards-one-missing", BadInputs::shardsOneMissing);
    ALL.put("shards-empty-index", d -> modelIndex(d, "{\"weight_map\": {}}"));
    ALL.put("shards-outside", d -> modelIndex(d, "{\"weight_map\": {\"norm.weight\": \"../x\"}}"));
    ALL.put("shards-unlisted", BadInputs::shardsUnlisted);
    ALL.put("base-no-q", d -> model(d, l -> without(l, QUERY)));
    ALL.put("base-k-transposed", d -> model(d, l -> replaced(l, KEY, DType.F32, 64, 32)));
    ALL.put("base-f8-q", d -> model(d, l -> replaced(l, QUERY, DType.F8_E4M3, 64, 64)));
    // outputs that exist
    ALL.put("earlier-merge", BadInputs::earlierMerge);
    ALL.put("not-a-merge", BadInputs::notAMerge);
    // sweep files
    ALL.put("sweep-valid", d -> sweepFile(d, "adapters:\n%s\ngrid:\n  method: ties\n"));
    ALL.put(
        "sweep-unknown-key",
        d -> sweepFile(d, "adapters:\n%s\ngrid: {method: ties}\noutptu: somewhere\n"));
    ALL.put(
        "sweep-unknown-name",
        d ->
            sweepFile(
                d, "adapters:\n%s\ncombinations:\n  - [rot90, hflp]\ngrid: {method: ties}\n"));
    ALL.put("sweep-no-grid", d -> sweepFile(d, "adapters:\n%s\n"));
    ALL.put(
        "sweep-one-input",
        d -> sweepFile(d, "adapters:\n%s\ncombinations:\n  - [rot90]\ngrid: {method: ties}\n"));
  }

  private BadInputs() {}

  /** Writes every crafted input into {@code root/<name>}. */
  static void writeAll(Path root) throws IOException {
    for (Map.Entry<String, Builder> input : ALL.entrySet()) {
      input.getValue().write(root.resolve(input.getKey()));
    }
  }

  private static void adapterConfigOnly(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.copy(ADAPTER.resolve(CONFIG), dir.resolve(CONFIG));
  }

  private static void adapterPickled(Path dir) throws IOException {
    adapterConfigOnly(dir);
    Files.write(dir.resolve("adapter_model.bin"), new byte[] {(byte) 0x80, 2, 0x7d});
  }

  private static void adapterNoConfig(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.copy(ADAPTER.resolve(WEIGHTS), dir.resolve(WEIGHTS));
  }

  private static void configRankPatternRegex(Path dir) throws IOException {
    adapterWithConfig(dir, c -> c.putObject("rank_pattern").put("q(", 2));
  }

  private static void configTargetsNumbers(Path dir) throws IOException {
    adapterWithConfig(dir, c -> c.putArray("target_modules").add(1));
  }

  private static void otherBaseModel(Path dir) throws IOException {
    adapterWithConfig(dir, c -> c.put("base_model_name_or_path", "meta-llama/Llama-3-8B"));
  }

  private static void adapterCopy(Path dir) throws IOException {
    adapterNoConfig(dir);
    Files.copy(ADAPTER.resolve(CONFIG), dir.resolve(CONFIG));
  }

  /** A copy of the sound adapter whose config {@code change} edits. */
  private static void adapterWithConfig(Path dir, Consumer<ObjectNode> change) throws IOException {
    adapterNoConfig(dir);
    ObjectNode config = Json.parseObject(Files.readAllBytes(ADAPTER.resolve(CONFIG)), "config");
    change.accept(config);
    Files.write(dir.resolve(CONFIG), Json.pretty(config));
  }

  /** A copy of the sound adapter whose config's text {@code change} edits, into no valid JSON. */
  private static void adapterWithConfigText(Path dir, UnaryOperator<String> change)
      throws IOException {
    adapterNoConfig(dir);
    Files.writeString(dir.resolve(CONFIG), change.apply(Files.readString(ADAPTER.resolve(CONFIG))));
  }

  /** A copy of the sound adapter with element {@code index} of {@code tensor} set to value. */
  private static void adapterWithValue(Path dir, String tensor, int index, double value)
      throws IOException {
    adapterCopy(dir);
    Fixtures.setFloat32(dir.resolve(WEIGHTS), tensor, index, value);
  }

  /** A small sound module {@code layers.0.q} and one more tensor of the given shape. */
  private static void small(Path dir, String tensor, long... shape) throws IOException {
    new AdapterDirs().module("layers.0.q").tensor("base_model.model." + tensor, shape).write(dir);
  }

  private static void loraAOnly(Path dir) throws IOException {
    new AdapterDirs().tensor("base_model.model.layers.0.q.lora_A.weight", 2, 3).write(dir);
  }

  private static void loraBOnly(Path dir) throws IOException {
    new AdapterDirs().tensor("base_model.model.layers.0.q.lora_B.weight", 4, 2).write(dir);
  }

  private static void ranksDiffer(Path dir) throws IOException {
    new AdapterDirs()
        .tensor("base_model.model.layers.0.q.lora_A.weight", 2, 3)
        .tensor("base_model.model.layers.0.q.lora_B.weight", 4, 3)
        .write(dir);
  }

  /** Rank 2 factors under a config that says r = 8. */
  private static void rankNotConfig(Path dir) throws IOException {
    new AdapterDirs().config("{\"peft_type\": \"LORA\", \"r\": 8}").module("layers.0.q").write(dir);
  }

  private static void twoLoraA(Path dir) throws IOException {
    new AdapterDirs()
        .module("layers.0.q")
        .tensor("base_model.model.layers.0.q.lora_A.default.weight", 2, 3)
        .write(dir);
  }

  /** Sound on its own, but its q_proj is 4 x 3 where the example set's is 64 x 64. */
  private static void otherArchitecture(Path dir) throws IOException {
    new AdapterDirs()
        .config(
            "{\"peft_type\": \"LORA\", \"r\": 2, \"base_model_name_or_path\": \"../../base_model\"}")
        .module("layers.0.self_attn.q_proj")
        .write(dir);
  }

  /** The config of the sound adapter and {@code bytes} as its weights. */
  private static void adapterWithWeights(Path dir, byte[] bytes) throws IOException {
    adapterConfigOnly(dir);
    Files.write(dir.resolve(WEIGHTS), bytes);
  }

  /** The config of the sound adapter and a safetensors file of this header and zero data. */
  private static void adapterWithHeader(Path dir, String header, int dataBytes) throws IOException {
    adapterWithWeights(dir, RawFiles.safetensors(header, dataBytes));
  }

  /** An I32 lora_A of module layers.0.q, which the config targets. */
  private static void integerFactor(Path dir) throws IOException {
    adapterWithHeader(dir, entry("I32", "[2, 3]", "[0, 24]"), 24);
    ObjectNode config = Json.parseObject(Files.readAllBytes(dir.resolve(CONFIG)), "config");
    config.putArray("target_modules").add("q");
    Files.write(dir.resolve(CONFIG), Json.pretty(config));
  }

  /** A header of one lora_A tensor with the given dtype, shape and offsets (JSON text). */
  private static String entry(String dtype, String shape, String offsets) {
    return "{\"base_model.model.layers.0.q.lora_A.weight\": {\"dtype\": \""
        + dtype
        + "\", \"shape\": "
        + shape
        + ", \"data_offsets\": "
        + offsets
        + "}}";
  }

  /** lora_B's bytes begin inside lora_A's. */
  private static void offsetsOverlap(Path dir) throws IOException {
    adapterWithHeader(
        dir,
        "{\"base_model.model.layers.0.q.lora_A.weight\":"
            + " {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},"
            + " \"base_model.model.layers.0.q.lora_B.weight\":"
            + " {\"dtype\": \"F32\", \"shape\": [4, 2], \"data_offsets\": [16, 48]}}",
        48);
  }

  private static void dtypeMissing(Path dir) throws IOException {
    adapterWithHeader(
        dir,
        "{\"base_model.model.layers.0.q.lora_A.weight\": {\"shape\": [2, 3],"
            + " \"data_offsets\": [0, 24]}}",
        24);
  }

  /** The sound adapter's weights cut in half, as an interrupted copy leaves them. */
  private static void weightsTruncated(Path dir) throws IOException {
    byte[] whole = Files.readAllBytes(ADAPTER.resolve(WEIGHTS));
    adapterWithWeights(dir, Arrays.copyOf(whole, whole.length / 2));
  }

  /** The sound adapter's weights with the header length replaced by {@code length}. */
  private static void adapterWithHeaderLength(Path dir, long length) throws IOException {
    byte[] bytes = Files.readAllBytes(ADAPTER.resolve(WEIGHTS));
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
    adapterWithWeights(dir, bytes);
  }

  private static void headerNotUtf8(Path dir) throws IOException {
    byte[] header = "{\"\u00ff\": 1}".getBytes(StandardCharsets.ISO_8859_1);
    adapterWithWeights(dir, RawFiles.safetensors(header, 0));
  }

  /** A model directory with the example base's config.json and no weights yet. */
  private static void modelDirectory(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.copy(BASE.resolve("config.json"), dir.resolve("config.json"));
  }

  private static void modelPickled(Path dir) throws IOException {
    modelDirectory(dir);
    Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 0x7d});
  }

  /**
   * A model directory with the example base's config and a {@code model.safetensors} of zeros whose
   * tensors are the base's after {@code change}.
   */
  private static void model(Path dir, UnaryOperator<List<TensorSpec>> change) throws IOException {
    List<TensorSpec> layout =
        change.apply(
            new ArrayList<>(HfModelFiles.open(Fixtures.STORE, BASE.toString()).layout().get(0)));
    modelDirectory(dir);
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            Fixtures.STORE.outputFile(dir.resolve(MODEL).toString()), layout, Map.of())) {
      for (TensorSpec tensor : layout) {
        if (tensor.dtype().isWritable()) {
          writer.write(tensor.name(), new double[(int) tensor.elementCount()]);
        } else {
          writer.writeRaw(tensor.name(), new byte[(int) tensor.byteLength()]);
        }
      }
    }
  }

  private static List<TensorSpec> without(List<TensorSpec> layout, String name) {
    layout.removeIf(t -> t.name().equals(name));
    return layout;
  }

  private static List<TensorSpec> with(
      List<TensorSpec> layout, String name, DType dtype, long... shape) {
    layout.add(new TensorSpec(name, dtype, shape));
    return layout;
  }

  private static List<TensorSpec> replaced(
      List<TensorSpec> layout, String name, DType dtype, long... shape) {
    layout.replaceAll(t -> t.name().equals(name) ? new TensorSpec(name, dtype, shape) : t);
    return layout;
  }

  /** A copy of the base with a NaN in q_proj of layer 0. */
  private static void modelWithNaN(Path dir) throws IOException {
    modelDirectory(dir);
    Files.copy(BASE.resolve(MODEL), dir.resolve(MODEL));
    Fixtures.setFloat32(dir.resolve(MODEL), QUERY, 70, Double.NaN);
  }

  /** The base's weights cut in half, as an interrupted download leaves them. */
  private static void checkpointTruncated(Path dir) throws IOException {
    modelDirectory(dir);
    byte[] whole = Files.readAllBytes(BASE.resolve(MODEL));
    Files.write(dir.resolve(MODEL), Arrays.copyOf(whole, whole.length / 2));
  }

  /** The base in three shards whose index leaves out norm.weight, which the last shard holds. */
  private static void shardsUnlisted(Path dir) throws IOException {
    Fixtures.writeShardedBase(dir, DType.F32, 200_000);
    Path index = dir.resolve(HfModelFiles.INDEX_FILE);
    ObjectNode json = Json.parseObject(Files.readAllBytes(index), "index");
    ((ObjectNode) json.get("weight_map")).remove("norm.weight");
    Files.write(index, Json.pretty(json));
  }

  /** The base in three shards with an index, the last shard deleted. */
  private static void shardsOneMissing(Path dir) throws IOException {
    Fixtures.writeShardedBase(dir, DType.F32, 200_000);
    Files.delete(dir.resolve("model-00003-of-00003.safetensors"));
  }

  private static void modelIndex(Path dir, String index) throws IOException {
    modelDirectory(dir);
    Files.writeString(dir.resolve(HfModelFiles.INDEX_FILE), index);
  }

  /** A published merge: what --output must not replace without --overwrite. */
  private static void earlierMerge(Path dir) throws IOException {
    adapterCopy(dir);
    Files.writeString(dir.resolve("_SUCCESS"), "merge complete\n");
  }

  /**
   * {@code dir/sweep.yaml}: {@code text} with the pool in place of its {@code %s}: rot90 and hflip
   * of the catalogue's {@code $A}, the adapters beside the crafted inputs.
   */
  private static void sweepFile(Path dir, String text) throws IOException {
    Files.createDirectories(dir);
    Path adapters = dir.toAbsolutePath().getParent().resolveSibling("adapters");
    String pool =
        "  rot90: " + adapters.resolve("rot90") + "\n  hflip: " + adapters.resolve("hflip");
    Files.writeString(dir.resolve("sweep.yaml"), String.format(text, pool));
  }

  /** A directory that is no merge: it has no _SUCCESS. */
  private static void notAMerge(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve("notes.txt"), "mine\n");
  }
}
