package dev.knots;

import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.plan.VectorPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Full fine-tuned checkpoints made from the fixture set: a base model plus each task's LoRA update
 * ({@code expected/deltas/<task>.safetensors}), saved as Hugging Face model directories in task
 * order. Every tensor the adapters do not touch is the base's, so its update is exactly zero.
 */
public final class Checkpoints {
  private static final String DELTA_PREFIX = "base_model.model.";

  private Checkpoints() {}

  /**
   * Writes one model directory per task under {@code root} ({@code root/<task>}), each a single
   * {@code model.safetensors} in {@code dtype} holding base + that task's update; returns them in
   * task order.
   */
  public static List<String> write(Path root, String baseDirectory, DType dtype)
      throws IOException {
    return write(root, baseDirectory, dtype, Map.of());
  }

  /**
   * Like {@link #write(Path, String, DType)}, and each task also changes every norm scale (the
   * non-2-D tensors) by {@link #normChange}, so that their per-tensor merge has work to do.
   */
  public static List<String> writeWithNormChanges(Path root, String baseDirectory, DType dtype)
      throws IOException {
    HfModelFiles base = HfModelFiles.open(Fixtures.STORE, baseDirectory);
    Map<String, Integer> norms = new HashMap<>();
    base.tensors()
        .forEach(
            (name, t) -> {
              if (t.info().rank() == 1) {
                norms.put(name, (int) t.info().elementCount());
              }
            });
    return write(root, baseDirectory, dtype, norms);
  }

  /** Task {@code task}'s change of entry {@code i} of a norm scale: small, of either sign. */
  public static double normChange(int task, int i) {
    return 0.01 * Math.sin(1.0 + i + 7.0 * task);
  }

  private static List<String> write(
      Path root, String baseDirectory, DType dtype, Map<String, Integer> changedNorms)
      throws IOException {
    HfModelFiles base = HfModelFiles.open(Fixtures.STORE, baseDirectory);
    List<String> directories = new ArrayList<>();
    for (int t = 0; t < Fixtures.TASKS.length; t++) {
      String task = Fixtures.TASKS[t];
      Map<String, double[]> deltas = new HashMap<>();
      Fixtures.arrays("expected/deltas/" + task + ".safetensors")
          .forEach((key, values) -> deltas.put(key.substring(DELTA_PREFIX.length()), values));
      for (Map.Entry<String, Integer> norm : changedNorms.entrySet()) {
        double[] change = new double[norm.getValue()];
        for (int i = 0; i < change.length; i++) {
          change[i] = normChange(t, i);
        }
        deltas.put(norm.getKey(), change);
      }
      Path directory = root.resolve(task);
      writeModel(directory, base, dtype, deltas);
      directories.add(directory.toString());
    }
    return directories;
  }

  /**
   * Writes {@code base + deltas} (by tensor name; missing means zero) as one {@code
   * model.safetensors} in {@code dtype}, with the fixture's config.json.
   */
  public static void writeModel(
      Path directory, HfModelFiles base, DType dtype, Map<String, double[]> deltas)
      throws IOException {
    Files.createDirectories(directory);
    Files.copy(Path.of(Fixtures.path("base_model/config.json")), directory.resolve("config.json"));
    List<TensorInfo> tensors = new ArrayList<>();
    base.shards().forEach(s -> tensors.addAll(s.header().tensors()));
    List<TensorSpec> layout =
        tensors.stream().map(t -> new TensorSpec(t.name(), dtype, t.shape())).toList();
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            Fixtures.STORE.outputFile(directory.resolve("model.safetensors").toString()),
            layout,
            Map.of())) {
      for (TensorInfo tensor : tensors) {
        double[] values;
        try (SafetensorsReader reader = base.openReader(base.require(tensor.name()).shard())) {
          values = reader.readDoubles(tensor.name());
        }
        double[] delta = deltas.get(tensor.name());
        for (int i = 0; delta != null && i < values.length; i++) {
          values[i] += delta[i];
        }
        writer.write(tensor.name(), values);
      }
    }
  }

  /** The merge of a fixture config over checkpoints instead of adapters, writing the model. */
  public static MergeRequest request(
      String configFile,
      List<String> checkpoints,
      String base,
      String output,
      Optional<String> exclude) {
    return request(
        configFile, checkpoints, base, output, exclude, OutputFormat.MODEL, OptionalInt.empty());
  }

  /** The same merge writing a LoRA adapter of rank at most {@code loraRank} extracted from it. */
  public static MergeRequest adapterRequest(
      String configFile, List<String> checkpoints, String base, String output, int loraRank) {
    return request(
        configFile,
        checkpoints,
        base,
        output,
        Optional.empty(),
        OutputFormat.ADAPTER,
        OptionalInt.of(loraRank));
  }

  /** The merge of a fixture config over checkpoints, with every checkpoint option. */
  public static MergeRequest request(
      String configFile,
      List<String> checkpoints,
      String base,
      String output,
      Optional<String> exclude,
      OutputFormat format,
      OptionalInt loraRank) {
    MergeRequest adapters =
        Fixtures.request(Fixtures.config(configFile), output, OutputFormat.MODEL, base);
    return new MergeRequest(
        List.of(),
        adapters.method(),
        adapters.parameters(),
        adapters.concat(),
        output,
        format,
        Optional.of(base),
        checkpoints,
        exclude,
        VectorPolicy.MERGE,
        loraRank);
  }
}
