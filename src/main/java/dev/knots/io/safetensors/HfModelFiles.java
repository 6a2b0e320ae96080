package dev.knots.io.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.Storage;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The safetensors weights of a Hugging Face model directory, as {@code save_pretrained} writes
 * them: either one {@code model.safetensors}, or shards listed in {@code
 * model.safetensors.index.json} ({@code {"metadata": {...}, "weight_map": {tensor: file}}}). Only
 * headers are read. Pickled weights ({@code pytorch_model.bin}, {@code *.pt}, ...) are refused.
 */
public final class HfModelFiles {

  /** File name of an unsharded model. */
  public static final String SINGLE_FILE = "model.safetensors";

  /** File name of the shard index of a sharded model. */
  public static final String INDEX_FILE = "model.safetensors.index.json";

  private static final int MAX_INDEX_BYTES = 64 << 20;

  /**
   * One safetensors file of the model.
   *
   * @param fileName name inside the model directory
   * @param location full location of the file
   * @param header its validated header; {@code header.tensors()} is the file's tensor order
   */
  public record Shard(String fileName, String location, SafetensorsHeader header)
      implements Serializable {

    /** A reader of this shard through {@code store}, reusing the header and length known here. */
    public SafetensorsReader openReader(FileStore store) {
      return new SafetensorsReader(store.inputFile(location, header.fileLength()), header);
    }
  }

  /** Where a tensor lives: its shard and its entry in that shard's header. */
  public record TensorLocation(Shard shard, TensorInfo info) {}

  private final FileStore store;
  private final String location;
  private final List<Shard> shards;
  private final Map<String, TensorLocation> tensors;
  private final Map<String, String> indexMetadata;

  private HfModelFiles(
      FileStore store, String location, List<Shard> shards, Map<String, String> indexMetadata) {
    this.store = store;
    this.location = location;
    this.shards = List.copyOf(shards);
    Map<String, TensorLocation> all = new LinkedHashMap<>();
    for (Shard shard : shards) {
      shard.header().tensors().forEach(t -> all.put(t.name(), new TensorLocation(shard, t)));
    }
    this.tensors = Collections.unmodifiableMap(all);
    this.indexMetadata = Collections.unmodifiableMap(indexMetadata);
  }

  /**
   * Opens the model in {@code directory}: {@code model.safetensors} if present (as transformers
   * prefers it), else the index and its shards.
   *
   * @throws FileFormatException naming the directory if it holds no safetensors weights (with a
   *     conversion hint when it holds pickles), or if index and shards disagree
   */
  public static HfModelFiles open(FileStore store, String directory) throws IOException {
    List<String> names = store.list(directory);
    if (names.contains(SINGLE_FILE)) {
      String file = store.resolve(directory, SINGLE_FILE);
      Shard shard = new Shard(SINGLE_FILE, file, SafetensorsHeader.read(store.inputFile(file)));
      return new HfModelFiles(store, directory, List.of(shard), Map.of());
    }
    if (names.contains(INDEX_FILE)) {
      return openSharded(store, directory);
    }
    refusePickles(directory, names, "model");
    throw new FileFormatException(
        "Cannot open model directory "
            + directory
            + ": it has neither "
            + SINGLE_FILE
            + " nor "
            + INDEX_FILE
            + ". Save the model with save_pretrained(safe_serialization=True).");
  }

  /**
   * Fails if {@code names} (a directory listing) contains pickled weights.
   *
   * @param what "model" or "adapter", for the message
   */
  public static void refusePickles(String directory, List<String> names, String what)
      throws FileFormatException {
    for (String name : names) {
      if (name.endsWith(".bin")
          || name.endsWith(".pt")
          || name.endsWith(".pth")
          || name.endsWith(".ckpt")
          || name.endsWith(".bin.index.json")) {
        throw new FileFormatException(
            "Cannot open "
                + what
                + " directory "
                + directory
                + ": it contains pickled weights ("
                + name
                + ") and no safetensors; pickles are never loaded."
                + " Convert with `safetensors`' convert script or save_pretrained(safe_serialization=True).");
      }
    }
  }

  private static HfModelFiles openSharded(FileStore store, String directory) throws IOException {
    String indexLocation = store.resolve(directory, INDEX_FILE);
    ObjectNode index =
        Json.parseObject(
            Storage.readAll(store.inputFile(indexLocation), MAX_INDEX_BYTES),
            "shard index " + indexLocation);
    JsonNode weightMap = index.get("weight_map");
    if (weightMap == null || !weightMap.isObject() || weightMap.isEmpty()) {
      throw invalidIndex(
          indexLocation, "\"weight_map\" must be a non-empty object of tensor name to file name");
    }
    Map<String, String> fileOf = new LinkedHashMap<>();
    TreeSet<String> files = new TreeSet<>();
    for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
      String file = entry.getValue().isTextual() ? entry.getValue().textValue() : "";
      if (file.isEmpty() || file.contains("/") || file.contains("\\") || file.equals("..")) {
        throw invalidIndex(
            indexLocation,
            "tensor '"
                + entry.getKey()
                + "' maps to "
                + entry.getValue()
                + ", not a file name in the model directory");
      }
      fileOf.put(entry.getKey(), file);
      files.add(file);
    }
    Map<String, Shard> shards = new LinkedHashMap<>();
    for (String file : files) {
      String shardLocation = store.resolve(directory, file);
      if (!store.exists(shardLocation)) {
        throw invalidIndex(indexLocation, "shard " + file + " does not exist");
      }
      Shard shard =
          new Shard(file, shardLocation, SafetensorsHeader.read(store.inputFile(shardLocation)));
      for (TensorInfo tensor : shard.header().tensors()) {
        if (!file.equals(fileOf.get(tensor.name()))) {
          throw invalidIndex(
              indexLocation,
              "tensor '"
                  + tensor.name()
                  + "' of shard "
                  + file
                  + (fileOf.containsKey(tensor.name())
                      ? " is mapped to " + fileOf.get(tensor.name())
                      : " is not listed"));
        }
      }
      shards.put(file, shard);
    }
    for (Map.Entry<String, String> entry : fileOf.entrySet()) {
      if (shards.get(entry.getValue()).header().tensor(entry.getKey()).isEmpty()) {
        throw invalidIndex(
            indexLocation,
            "tensor '"
                + entry.getKey()
                + "' is mapped to "
                + entry.getValue()
                + ", which has no such tensor");
      }
    }
    Map<String, String> metadata = new TreeMap<>();
    JsonNode meta = index.get("metadata");
    if (meta != null && meta.isObject()) {
      meta.properties()
          .forEach(
              e ->
                  metadata.put(
                      e.getKey(),
                      e.getValue().isTextual()
                          ? e.getValue().textValue()
                          : e.getValue().toString()));
    }
    return new HfModelFiles(store, directory, new ArrayList<>(shards.values()), metadata);
  }

  private static FileFormatException invalidIndex(String indexLocation, String reason) {
    return new FileFormatException(
        "Cannot open sharded model " + indexLocation + ": " + reason + ".");
  }

  /** The model directory. */
  public String location() {
    return location;
  }

  /**
   * Whether the weights are split into shards with an index (else one {@code model.safetensors}).
   */
  public boolean isSharded() {
    return !(shards.size() == 1 && shards.get(0).fileName().equals(SINGLE_FILE));
  }

  /** The safetensors files, in file-name order (for shards, the shard number order). */
  public List<Shard> shards() {
    return shards;
  }

  /** Every tensor by name, in shard order and, within a shard, in file order. */
  public Map<String, TensorLocation> tensors() {
    return tensors;
  }

  /** The tensor named {@code name}, if the model has it. */
  public Optional<TensorLocation> tensor(String name) {
    return Optional.ofNullable(tensors.get(name));
  }

  /**
   * The tensor named {@code name}.
   *
   * @throws FileFormatException naming the tensor and model directory if it is missing
   */
  public TensorLocation require(String name) throws FileFormatException {
    TensorLocation found = tensors.get(name);
    if (found == null) {
      throw new FileFormatException(
          "Cannot find tensor '"
              + name
              + "' in model "
              + location
              + ": its "
              + tensors.size()
              + " tensors do not include it.");
    }
    return found;
  }

  /**
   * The shard layout: for each shard, its tensors in file order; input for {@link
   * ShardedModelWriter}.
   */
  public List<List<TensorSpec>> layout() {
    List<List<TensorSpec>> layout = new ArrayList<>();
    for (Shard shard : shards) {
      layout.add(shard.header().tensors().stream().map(TensorSpec::of).toList());
    }
    return layout;
  }

  /** The {@code metadata} of the index as text values (empty for an unsharded model). */
  public Map<String, String> indexMetadata() {
    return indexMetadata;
  }

  /** A reader of one shard's tensors; the caller closes it. */
  public SafetensorsReader openReader(Shard shard) {
    return shard.openReader(store);
  }
}
