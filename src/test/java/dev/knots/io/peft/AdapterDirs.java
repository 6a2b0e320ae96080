package dev.knots.io.peft;

import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds small adapter directories for tests: a config and float32 tensors filled with 0.01 *
 * (index + 1).
 */
public final class AdapterDirs {

  public static final String LORA_CONFIG =
      "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,\"target_modules\":[\"q\"]}";

  private final Map<String, long[]> tensors = new LinkedHashMap<>();
  private String config = LORA_CONFIG;

  public AdapterDirs config(String json) {
    this.config = json;
    return this;
  }

  public AdapterDirs tensor(String name, long... shape) {
    tensors.put(name, shape);
    return this;
  }

  /** A module with rank 2, 3 inputs and 4 outputs under the usual keys. */
  public AdapterDirs module(String key) {
    return tensor("base_model.model." + key + ".lora_A.weight", 2, 3)
        .tensor("base_model.model." + key + ".lora_B.weight", 4, 2);
  }

  /** Writes the adapter into {@code dir} and returns its location. */
  public String write(Path dir) throws IOException {
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(LoraAdapter.CONFIG_FILE), config);
    List<TensorSpec> layout = new ArrayList<>();
    tensors.forEach((name, shape) -> layout.add(new TensorSpec(name, DType.F32, shape)));
    LocalFileStore store = new LocalFileStore();
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            store.outputFile(dir.resolve(LoraAdapter.WEIGHTS_FILE).toString()), layout, Map.of())) {
      for (TensorSpec spec : layout) {
        double[] values = new double[(int) spec.elementCount()];
        for (int i = 0; i < values.length; i++) {
          values[i] = 0.01 * (i + 1);
        }
        writer.write(spec.name(), values);
      }
    }
    return dir.toString();
  }
}
