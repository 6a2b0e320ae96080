package dev.knots.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.bench.SyntheticAdapters.Module;
import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.Storage;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A synthetic base model matching a {@link SyntheticAdapters} set, for {@code --format model} runs.
 */
public final class SyntheticBaseModel {

  static final double STD = 0.02;
  private static final int PIECE_ELEMENTS = 1 << 20;

  private SyntheticBaseModel() {}

  /**
   * Writes a synthetic base model for {@code --format model} runs into {@code directory}: one
   * {@code model.safetensors} in bfloat16 with, per layer, the four attention weights ({@code N(0,
   * 0.02)}) and the two RMSNorm weights (ones), plus {@code model.norm.weight}; and a small Llama
   * {@code config.json}. Embeddings and MLPs are left out to keep it small.
   */
  public static void write(FileStore store, String directory, Spec spec) throws IOException {
    List<TensorSpec> layout = new ArrayList<>();
    for (int layer = 0; layer < spec.layers(); layer++) {
      String prefix = "model.layers." + layer + ".";
      layout.add(
          new TensorSpec(
              prefix + "input_layernorm.weight", DType.BF16, new long[] {spec.hidden()}));
      layout.add(
          new TensorSpec(
              prefix + "post_attention_layernorm.weight", DType.BF16, new long[] {spec.hidden()}));
    }
    for (Module m : SyntheticAdapters.modules(spec)) {
      layout.add(TensorSpec.matrix(m.key() + ".weight", DType.BF16, m.out(), m.in()));
    }
    layout.add(new TensorSpec("model.norm.weight", DType.BF16, new long[] {spec.hidden()}));
    layout.sort(Comparator.comparing(TensorSpec::name));
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            store.outputFile(store.resolve(directory, HfModelFiles.SINGLE_FILE)),
            layout,
            Map.of())) {
      for (TensorSpec tensor : layout) {
        if (tensor.shape().length == 1) {
          double[] ones = new double[(int) tensor.elementCount()];
          Arrays.fill(ones, 1.0);
          writer.write(tensor.name(), ones);
          continue;
        }
        SplittableRandom random =
            new SplittableRandom(SyntheticAdapters.streamSeed(spec.seed(), -1, tensor.name(), 'W'));
        for (long done = 0; done < tensor.elementCount(); ) {
          double[] piece = new double[(int) Math.min(PIECE_ELEMENTS, tensor.elementCount() - done)];
          for (int i = 0; i < piece.length; i++) {
            piece[i] = random.nextGaussian() * STD;
          }
          writer.writePart(tensor.name(), piece);
          done += piece.length;
        }
      }
    }
    Storage.writeAll(
        store.outputFile(store.resolve(directory, "config.json")), Json.pretty(config(spec)));
  }

  private static ObjectNode config(Spec spec) {
    int headDim =
        spec.kv() % 128 == 0 && spec.hidden() % 128 == 0 ? 128 : Math.min(spec.hidden(), spec.kv());
    ObjectNode c = Json.object();
    c.putArray("architectures").add("LlamaForCausalLM");
    c.put("head_dim", headDim);
    c.put("hidden_size", spec.hidden());
    c.put("model_type", "llama");
    c.put("num_attention_heads", spec.hidden() / headDim);
    c.put("num_hidden_layers", spec.layers());
    c.put("num_key_value_heads", spec.kv() / headDim);
    c.put("rms_norm_eps", 1e-5);
    c.put("torch_dtype", "bfloat16");
    c.put("_comment", "synthetic: attention weights and norms only, no embeddings or MLP");
    return c;
  }
}
