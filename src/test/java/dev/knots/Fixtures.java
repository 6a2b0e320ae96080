package dev.knots;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.io.InputFile;
import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.ShardedModelWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.Scope;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The real fixture set (src/test/resources/fixtures, described in docs/merging.md): eight PEFT LoRA
 * adapters trained on real data, their base model and the expected merge outputs.
 */
public final class Fixtures {

  /** The eight task adapters, in the canonical task order of the expected outputs. */
  public static final String[] TASKS = {
    "rot90",
    "hflip",
    "invert",
    "rot180_parity",
    "transpose_mod3",
    "vflip_ge5",
    "shift_down2",
    "identity_reverse"
  };

  /**
   * The fixtures' tolerance per module (docs/merging.md), relative to the expected update: the
   * float32 reference and a float64 pipeline differ by about 3e-7, while one entry on the wrong
   * side of a top-K threshold or sign election moves a module by 3e-4 or more.
   */
  public static final double RELATIVE_TOLERANCE = 1e-4;

  public static final LocalFileStore STORE = new LocalFileStore();

  private Fixtures() {}

  public static Path root() {
    URL url = Fixtures.class.getResource("/fixtures");
    if (url == null) {
      throw new IllegalStateException("test resources lack fixtures/");
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The fixture file or directory at {@code relative}, e.g. {@code adapters/rot90}. */
  public static String path(String relative) {
    return root().resolve(relative).toString();
  }

  public static JsonNode json(String relative) {
    try {
      return new ObjectMapper().readTree(root().resolve(relative).toFile());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code expected/configs.json}. */
  public static JsonNode configs() {
    return json("expected/configs.json");
  }

  /** The entry of {@code configs.json} describing the expected file {@code file}. */
  public static JsonNode config(String file) {
    for (JsonNode config : configs().get("configs")) {
      if (config.get("file").asText().equals(file)) {
        return config;
      }
    }
    throw new IllegalArgumentException("no expected config " + file);
  }

  /** The adapter directories of a config, in task order. */
  public static List<String> adapters(JsonNode config) {
    List<String> adapters = new ArrayList<>();
    config.get("adapters").forEach(a -> adapters.add(path(a.asText())));
    return adapters;
  }

  /** The merge a fixture config describes, writing a PEFT adapter to {@code output}. */
  public static MergeRequest request(JsonNode config, String output) {
    return request(config, output, OutputFormat.ADAPTER, null);
  }

  /** The merge a fixture config describes, with the given outputs ({@code base} may be null). */
  public static MergeRequest request(
      JsonNode config, String output, OutputFormat format, String base) {
    List<Double> scaling = new ArrayList<>();
    config.get("scaling").forEach(s -> scaling.add(s.asDouble()));
    MergeParameters parameters =
        MergeParameters.defaults()
            .withTopK(config.get("topk").asDouble())
            .withScaling(scaling)
            .withScope(Scope.parse(config.get("topk_scope").asText()));
    return new MergeRequest(
        adapters(config),
        MergeMethods.byName(config.get("method").asText()),
        parameters,
        Concat.valueOf(config.get("concat").asText().toUpperCase(Locale.ROOT)),
        output,
        format,
        Optional.ofNullable(base));
  }

  /**
   * Writes the fixture base model again into {@code dir} in {@code dtype}, split into shards of at
   * most {@code maxShardBytes} with an index, plus its config.json.
   */
  public static void writeShardedBase(Path dir, DType dtype, long maxShardBytes)
      throws IOException {
    writeShardedBase(dir, dtype, maxShardBytes, name -> true);
  }

  /** As {@link #writeShardedBase(Path, DType, long)}, with only the tensors {@code keep} takes. */
  public static void writeShardedBase(
      Path dir, DType dtype, long maxShardBytes, Predicate<String> keep) throws IOException {
    HfModelFiles base = HfModelFiles.open(STORE, path("base_model"));
    List<TensorSpec> specs = new ArrayList<>();
    for (TensorInfo t : base.shards().get(0).header().tensors()) {
      if (keep.test(t.name())) {
        specs.add(new TensorSpec(t.name(), dtype, t.shape()));
      }
    }
    List<List<TensorSpec>> shards = ShardedModelWriter.planShards(specs, maxShardBytes);
    Files.createDirectories(dir);
    Files.copy(Path.of(path("base_model/config.json")), dir.resolve("config.json"));
    try (ShardedModelWriter writer =
            ShardedModelWriter.open(STORE, dir.toString(), shards, Map.of());
        SafetensorsReader reader = base.openReader(base.shards().get(0))) {
      for (List<TensorSpec> shard : shards) {
        for (TensorSpec spec : shard) {
          writer.write(spec.name(), reader.readDoubles(spec.name()));
        }
      }
    }
  }

  /** Sets element {@code index} of a float32 tensor of a safetensors file, in place. */
  public static void setFloat32(Path file, String tensor, int index, double value)
      throws IOException {
    SafetensorsHeader header = SafetensorsHeader.read(STORE.inputFile(file.toString()));
    long at = header.dataOffset() + header.require(tensor).begin() + 4L * index;
    byte[] bytes = Files.readAllBytes(file);
    int bits = Float.floatToRawIntBits((float) value);
    for (int k = 0; k < 4; k++) {
      bytes[(int) at + k] = (byte) (bits >>> (8 * k));
    }
    Files.write(file, bytes);
  }

  /** Every tensor of a fixture safetensors file, flattened row-major. */
  public static Map<String, double[]> arrays(String relative) {
    Map<String, double[]> out = new LinkedHashMap<>();
    read(relative, (info, values) -> out.put(info.name(), values));
    return out;
  }

  /** Every tensor of a fixture safetensors file of 2-D tensors, as matrices. */
  public static Map<String, Matrix> matrices(String relative) {
    Map<String, Matrix> out = new LinkedHashMap<>();
    read(
        relative,
        (info, values) ->
            out.put(info.name(), Matrix.fromRowMajor(info.rows(), info.cols(), values)));
    return out;
  }

  /** A failure message if {@code got} misses {@link #RELATIVE_TOLERANCE}, else null. */
  public static String compare(String name, Matrix got, Matrix expected) {
    if (got.rows != expected.rows || got.cols != expected.cols) {
      return name
          + ": shape "
          + got.rows
          + "x"
          + got.cols
          + ", expected "
          + expected.rows
          + "x"
          + expected.cols;
    }
    Matrix diff = got.minus(expected);
    double relative = diff.frobeniusNorm() / expected.frobeniusNorm();
    double worst = diff.maxAbs() / expected.maxAbs();
    if (relative > RELATIVE_TOLERANCE || worst > RELATIVE_TOLERANCE) {
      return String.format(
          "%s: relative Frobenius error %.3e, max error %.3e of max|expected|",
          name, relative, worst);
    }
    return null;
  }

  private interface TensorVisitor {
    void accept(TensorInfo info, double[] values);
  }

  private static void read(String relative, TensorVisitor visitor) {
    try {
      InputFile input = STORE.inputFile(path(relative));
      SafetensorsHeader header = SafetensorsHeader.read(input);
      try (SafetensorsReader reader = new SafetensorsReader(input, header)) {
        for (TensorInfo info : header.tensors()) {
          visitor.accept(info, reader.readDoubles(info.name()));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
