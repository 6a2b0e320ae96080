package dev.knots.io.safetensors;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.Storage;
import java.io.Closeable;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a model as Hugging Face lays it out: one {@code model.safetensors}, or shards {@code
 * model-00001-of-00003.safetensors}, ... plus {@code model.safetensors.index.json}.
 *
 * <p>Tensors are streamed in layout order across shards; each shard is closed before the next is
 * created. The index ({@code {"metadata": {"total_size": bytes}, "weight_map": {tensor: file}}},
 * keys sorted) is written last, by {@link #close()}, and only once every tensor was written: it is
 * the commit marker of a sharded model. A single-shard model has no index; its file is complete
 * when {@link #close()} returns. Nothing is deleted on failure: the caller owns the staging
 * directory.
 */
public final class ShardedModelWriter implements Closeable {

  private final FileStore store;
  private final String directory;
  private final List<List<TensorSpec>> shards;
  private final Map<String, String> metadata;
  private int currentShard = -1;
  private SafetensorsWriter writer;
  private boolean closed;

  private ShardedModelWriter(
      FileStore store,
      String directory,
      List<List<TensorSpec>> shards,
      Map<String, String> metadata) {
    this.store = store;
    this.directory = directory;
    this.shards = shards;
    this.metadata = metadata;
  }

  /**
   * Prepares to write {@code shards} (each an ordered list of tensors) into {@code directory}; no
   * file is created until the first tensor is written.
   *
   * @param metadata extra {@code __metadata__} entries of every shard file
   * @throws IllegalArgumentException if there is no shard, a shard is empty or a name repeats
   */
  public static ShardedModelWriter open(
      FileStore store,
      String directory,
      List<List<TensorSpec>> shards,
      Map<String, String> metadata) {
    List<List<TensorSpec>> copy = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (List<TensorSpec> shard : shards) {
      if (shard.isEmpty()) {
        throw new IllegalArgumentException(
            "Cannot write model "
                + directory
                + ": shard "
                + (copy.size() + 1)
                + " of "
                + shards.size()
                + " has no tensors.");
      }
      for (TensorSpec spec : shard) {
        if (!names.add(spec.name())) {
          throw new IllegalArgumentException(
              "Cannot write model "
                  + directory
                  + ": tensor '"
                  + spec.name()
                  + "' appears twice in the layout.");
        }
      }
      copy.add(List.copyOf(shard));
    }
    if (copy.isEmpty()) {
      throw new IllegalArgumentException(
          "Cannot write model " + directory + ": the layout has no shards.");
    }
    return new ShardedModelWriter(store, directory, List.copyOf(copy), Map.copyOf(metadata));
  }

  /**
   * File name of shard {@code index} (1-based) of {@code count}, as Hugging Face names it, or
   * {@code model.safetensors} when there is one shard.
   */
  public static String shardFileName(int index, int count) {
    if (count == 1) {
      return HfModelFiles.SINGLE_FILE;
    }
    return String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", index, count);
  }

  /**
   * Splits {@code tensors}, kept in order, into shards of at most {@code maxShardBytes} of tensor
   * data, as Hugging Face's {@code max_shard_size} does: a tensor that would push the current shard
   * over the limit starts a new one, and a tensor larger than the limit gets a shard of its own.
   * (Unlike Hugging Face, that oversized shard is placed in order, so the tensor order is kept.)
   */
  public static List<List<TensorSpec>> planShards(List<TensorSpec> tensors, long maxShardBytes) {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException(
          "Cannot plan shards of at most " + maxShardBytes + " bytes.");
    }
    List<List<TensorSpec>> shards = new ArrayList<>();
    List<TensorSpec> current = new ArrayList<>();
    long currentBytes = 0;
    for (TensorSpec tensor : tensors) {
      long bytes = tensor.byteLength();
      if (!current.isEmpty() && (bytes > maxShardBytes || currentBytes + bytes > maxShardBytes)) {
        shards.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
      current.add(tensor);
      currentBytes += bytes;
      if (bytes > maxShardBytes) {
        shards.add(current);
        current = new ArrayList<>();
        currentBytes = 0;
      }
    }
    if (!current.isEmpty()) {
      shards.add(current);
    }
    return shards;
  }

  /** The shard layout being written. */
  public List<List<TensorSpec>> shards() {
    return shards;
  }

  /** Writes the next tensor whole; see {@link SafetensorsWriter#write}. */
  public void write(String name, double[] rowMajorValues) throws IOException {
    writerFor(name).write(name, rowMajorValues);
  }

  /** Writes the next part of the tensor being written; see {@link SafetensorsWriter#writePart}. */
  public void writePart(String name, double[] values) throws IOException {
    writerFor(name).writePart(name, values);
  }

  /** Writes the next tensor whole from its stored bytes; see {@link SafetensorsWriter#writeRaw}. */
  public void writeRaw(String name, byte[] bytes) throws IOException {
    writerFor(name).writeRaw(name, bytes);
  }

  /**
   * Writes the next bytes of the tensor being written; see {@link SafetensorsWriter#writeRawPart}.
   */
  public void writeRawPart(String name, byte[] bytes) throws IOException {
    writerFor(name).writeRawPart(name, bytes);
  }

  /**
   * Finishes the last shard and, for a sharded model, writes the index.
   *
   * @throws IOException naming the first tensor not written; no index is written then
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    if (writer != null) {
      writer.close();
    }
    if (writer == null || currentShard < shards.size() - 1) {
      String missing = shards.get(currentShard + 1).get(0).name();
      throw new IOException(
          "Cannot finish model "
              + directory
              + ": tensor '"
              + missing
              + "' and the tensors after it were not written; no index was written.");
    }
    if (shards.size() > 1) {
      writeIndex(store, directory, shards);
    }
  }

  /**
   * Writes {@code model.safetensors.index.json} for shards written separately (for example by
   * parallel tasks, each shard with {@link SafetensorsWriter} under {@link #shardFileName}): call
   * it once every shard is complete, since the index is what makes the model loadable.
   */
  public static void writeIndex(FileStore store, String directory, List<List<TensorSpec>> shards)
      throws IOException {
    Storage.writeAll(
        store.outputFile(store.resolve(directory, HfModelFiles.INDEX_FILE)),
        Json.pretty(index(shards)));
  }

  private static ObjectNode index(List<List<TensorSpec>> shards) {
    ObjectNode index = Json.object();
    long totalSize = 0;
    Map<String, String> weightMap = new TreeMap<>();
    for (int i = 0; i < shards.size(); i++) {
      String file = shardFileName(i + 1, shards.size());
      for (TensorSpec spec : shards.get(i)) {
        totalSize += spec.byteLength();
        weightMap.put(spec.name(), file);
      }
    }
    index.putObject("metadata").put("total_size", totalSize);
    ObjectNode map = index.putObject("weight_map");
    weightMap.forEach(map::put);
    return index;
  }

  private SafetensorsWriter writerFor(String name) throws IOException {
    if (closed) {
      throw new IllegalStateException(
          "Cannot write tensor '" + name + "' to model " + directory + ": closed.");
    }
    if (writer != null && writer.isComplete()) {
      if (currentShard == shards.size() - 1) {
        throw new IllegalStateException(
            "Cannot write tensor '"
                + name
                + "' to model "
                + directory
                + ": every tensor of the layout is written.");
      }
      writer.close();
      writer = null;
    }
    if (writer == null) {
      int next = currentShard + 1;
      String expected = shards.get(next).get(0).name();
      if (!expected.equals(name)) {
        throw new IllegalStateException(
            "Cannot write tensor '"
                + name
                + "' to model "
                + directory
                + ": tensors must be written in layout order, and the next one is '"
                + expected
                + "'.");
      }
      currentShard = next;
      String file = store.resolve(directory, shardFileName(next + 1, shards.size()));
      writer = SafetensorsWriter.open(store.outputFile(file), shards.get(next), metadata);
    }
    return writer;
  }
}
