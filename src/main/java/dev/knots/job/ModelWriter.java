package dev.knots.job;

import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.ShardedModelWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.linalg.Matrix;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PlainTensor;
import java.io.IOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes the merged full model: every tensor of the base model, in the base's own shard layout,
 * order and dtypes, with {@code W + dW} for each merged module's weight. Streams a bounded number
 * of rows at a time, so memory stays small whatever the size of a tensor.
 */
public final class ModelWriter {
  /** Elements per streamed piece: 64 MiB of float64. */
  private static final long PIECE_ELEMENTS = 8L << 20;

  private ModelWriter() {}

  /** The base model tensor a module's update is added to. */
  public static String weightName(String moduleKey) {
    return moduleKey + ".weight";
  }

  /**
   * Checks that every merged module has a base weight of its shape, before anything is written.
   *
   * @param fanInFanOut true when the base stores weights as {@code in x out} (GPT-2's Conv1D)
   */
  public static void checkCompatible(
      HfModelFiles base, List<ModuleSpec> modules, boolean fanInFanOut) throws FileFormatException {
    for (ModuleSpec module : modules) {
      String name = weightName(module.key());
      TensorInfo weight =
          base.tensor(name)
              .orElseThrow(
                  () ->
                      new FileFormatException(
                          "Cannot add the merged update of module "
                              + module.key()
                              + " to base model "
                              + base.location()
                              + ": it has no tensor "
                              + name
                              + ". Is --base the"
                              + " model the adapters were trained on?"))
              .info();
      long rows = fanInFanOut ? module.in() : module.out();
      long cols = fanInFanOut ? module.out() : module.in();
      if (weight.rank() != 2 || weight.shape()[0] != rows || weight.shape()[1] != cols) {
        throw new FileFormatException(
            "Cannot add the merged update of module "
                + module.key()
                + " to base model "
                + base.location()
                + ": tensor "
                + name
                + " has shape "
                + weight.shapeText()
                + " but the adapters update a ["
                + rows
                + ", "
                + cols
                + "] weight.");
      }
      if (!weight.dtype().isWritable()) {
        throw new FileFormatException(
            "Cannot add the merged update to tensor "
                + name
                + " of "
                + base.location()
                + ": its dtype "
                + weight.dtype()
                + " is not a float type we can write.");
      }
    }
  }

  /** Writes the model into {@code directory}; the shard index, if any, is written last. */
  public static void write(
      FileStore store,
      HfModelFiles base,
      String directory,
      List<MergedModule> merged,
      PlainTensorMerge plain,
      boolean fanInFanOut)
      throws IOException {
    Map<String, MergedModule> byWeight = new HashMap<>();
    merged.forEach(m -> byWeight.put(weightName(m.key()), m));
    List<HfModelFiles.Shard> shards = base.shards();
    for (int shard = 0; shard < shards.size(); shard++) {
      writeShard(
          store, shards.get(shard), shard, shards.size(), directory, byWeight, plain, fanInFanOut);
    }
    if (base.isSharded()) {
      ShardedModelWriter.writeIndex(store, directory, base.layout());
    }
  }

  /**
   * Writes shard {@code shard} (0-based, of {@code shardCount}) of the merged model: the base shard
   * {@code source}'s tensors in its order, with {@code W + dW} where {@code mergedByWeight} has a
   * module for the tensor and {@code W + merged change} where {@code plain} has the tensor. Shards
   * are independent, so parallel tasks may each write one; the index comes after all of them.
   */
  public static void writeShard(
      FileStore store,
      HfModelFiles.Shard source,
      int shard,
      int shardCount,
      String directory,
      Map<String, MergedModule> mergedByWeight,
      PlainTensorMerge plain,
      boolean fanInFanOut)
      throws IOException {
    List<TensorSpec> layout = source.header().tensors().stream().map(TensorSpec::of).toList();
    String file = store.resolve(directory, ShardedModelWriter.shardFileName(shard + 1, shardCount));
    try (SafetensorsReader reader = source.openReader(store);
        SafetensorsWriter writer =
            SafetensorsWriter.open(store.outputFile(file), layout, Map.of())) {
      for (TensorInfo tensor : source.header().tensors()) {
        MergedModule module = mergedByWeight.get(tensor.name());
        Optional<PlainTensor> merged = plain.tensor(tensor.name());
        if (module != null && !module.isZero()) {
          addUpdate(reader, writer, tensor, module, fanInFanOut);
        } else if (merged.isPresent()) {
          addPlainUpdate(reader, writer, tensor, plain.merge(merged.get(), store).values());
        } else {
          copy(reader, writer, tensor);
        }
      }
    }
  }

  private static void copy(SafetensorsReader reader, SafetensorsWriter writer, TensorInfo tensor)
      throws IOException {
    long pieceBytes = PIECE_ELEMENTS * Double.BYTES;
    for (long offset = 0; offset < tensor.byteLength(); offset += pieceBytes) {
      int length = (int) Math.min(pieceBytes, tensor.byteLength() - offset);
      writer.writeRawPart(tensor.name(), reader.readRaw(tensor.name(), offset, length));
    }
    if (tensor.byteLength() == 0) {
      writer.writeRaw(tensor.name(), new byte[0]);
    }
  }

  /** {@code W + dW} for a small tensor merged whole; a zero change keeps the base's exact bytes. */
  private static void addPlainUpdate(
      SafetensorsReader reader, SafetensorsWriter writer, TensorInfo tensor, double[] update)
      throws IOException {
    if (Arrays.stream(update).allMatch(v -> v == 0)) {
      copy(reader, writer, tensor);
      return;
    }
    double[] values = reader.readDoubles(tensor.name());
    for (int j = 0; j < values.length; j++) {
      values[j] += update[j];
    }
    writer.write(tensor.name(), values);
  }

  /** Streams {@code W + dW} in row blocks; {@code dW} rows come from the low-rank factors. */
  private static void addUpdate(
      SafetensorsReader reader,
      SafetensorsWriter writer,
      TensorInfo tensor,
      MergedModule module,
      boolean fanInFanOut)
      throws IOException {
    Matrix left = fanInFanOut ? module.a().transpose() : module.b();
    Matrix right = fanInFanOut ? module.b().transpose() : module.a();
    int rows = left.rows;
    int cols = right.cols;
    int rowsPerPiece = (int) Math.max(1, Math.min(rows, PIECE_ELEMENTS / Math.max(1, cols)));
    for (int r0 = 0; r0 < rows; r0 += rowsPerPiece) {
      int r1 = Math.min(rows, r0 + rowsPerPiece);
      double[] values = reader.readDoubles(tensor.name(), (long) r0 * cols, (r1 - r0) * cols);
      double[] update = left.rowRange(r0, r1).multiply(right).toRowMajor();
      for (int j = 0; j < values.length; j++) {
        values[j] += update[j];
      }
      writer.writePart(tensor.name(), values);
    }
  }
}
