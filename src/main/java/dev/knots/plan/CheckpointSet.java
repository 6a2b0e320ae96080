package dev.knots.plan;

import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.peft.AdapterWriter;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.TensorInfo;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Full fine-tuned checkpoints of one base model, opened from safetensors headers only and checked
 * against the base: the same tensor names, the same shapes, floating dtypes (which may differ from
 * the base's; values are widened to float64). Each task's update is {@code finetuned - base}:
 *
 * <ul>
 *   <li>every 2-D floating {@code <key>.weight} becomes a module {@code <key>}, aligned and merged
 *       like a LoRA module, its update read densely;
 *   <li>other floating tensors (norm scales, biases) become {@link PlainTensor}s, merged entry-wise
 *       on their own, or are taken from the base with {@link VectorPolicy#BASE};
 *   <li>tensors matched by the exclusion pattern, and non-floating ones, are taken from the base.
 * </ul>
 */
public final class CheckpointSet implements MergeInputs {
  private static final String WEIGHT_SUFFIX = ".weight";

  private final HfModelFiles base;
  private final List<String> checkpoints;
  private final List<ModuleSpec> modules;
  private final List<PlainTensor> plainTensors;
  private final List<String> warnings;

  private CheckpointSet(
      HfModelFiles base,
      List<String> checkpoints,
      List<ModuleSpec> modules,
      List<PlainTensor> plainTensors,
      List<String> warnings) {
    this.base = base;
    this.checkpoints = List.copyOf(checkpoints);
    this.modules = List.copyOf(modules);
    this.plainTensors = List.copyOf(plainTensors);
    this.warnings = List.copyOf(warnings);
  }

  /**
   * Opens the base and every checkpoint (headers only) and checks that they can be merged.
   *
   * @param exclude tensors whose name this pattern finds are taken from the base unchanged
   * @throws FileFormatException naming the checkpoint and the first tensor that differs
   */
  public static CheckpointSet open(
      FileStore store,
      String baseLocation,
      List<String> locations,
      Optional<Pattern> exclude,
      VectorPolicy vectors)
      throws IOException {
    HfModelFiles base = HfModelFiles.open(store, baseLocation);
    List<HfModelFiles> tuned = new ArrayList<>();
    for (String location : locations) {
      HfModelFiles checkpoint = HfModelFiles.open(store, location);
      checkSameTensors(base, checkpoint);
      tuned.add(checkpoint);
    }
    List<ModuleSpec> modules = new ArrayList<>();
    List<PlainTensor> plain = new ArrayList<>();
    List<String> excluded = new ArrayList<>();
    List<String> fromBase = new ArrayList<>();
    for (String name : new TreeSet<>(base.tensors().keySet())) {
      TensorInfo info = base.require(name).info();
      if (!info.dtype().isFloat()) {
        continue;
      }
      if (exclude.isPresent() && exclude.get().matcher(name).find()) {
        excluded.add(name);
        continue;
      }
      List<TensorDelta> deltas = new ArrayList<>();
      for (HfModelFiles checkpoint : tuned) {
        deltas.add(delta(base, checkpoint, name));
      }
      if (info.rank() == 2 && name.endsWith(WEIGHT_SUFFIX)) {
        List<UpdateSource> sources = new ArrayList<>();
        deltas.forEach(d -> sources.add(new CheckpointDeltaSource(d, info.rows(), info.cols())));
        modules.add(
            new ModuleSpec(
                name.substring(0, name.length() - WEIGHT_SUFFIX.length()),
                info.rows(),
                info.cols(),
                sources));
      } else if (vectors == VectorPolicy.MERGE) {
        plain.add(new PlainTensor(name, deltas));
      } else {
        fromBase.add(name);
      }
    }
    List<String> warnings = new ArrayList<>();
    if (!excluded.isEmpty()) {
      warnings.add("taken from the base (--exclude): " + excluded.size() + " tensors " + excluded);
    }
    if (!fromBase.isEmpty()) {
      warnings.add(
          "taken from the base (--vectors base): " + fromBase.size() + " tensors " + fromBase);
    }
    return new CheckpointSet(base, locations, modules, plain, warnings);
  }

  private static void checkSameTensors(HfModelFiles base, HfModelFiles checkpoint)
      throws FileFormatException {
    Map<String, HfModelFiles.TensorLocation> theirs = checkpoint.tensors();
    for (Map.Entry<String, HfModelFiles.TensorLocation> entry : base.tensors().entrySet()) {
      HfModelFiles.TensorLocation other = theirs.get(entry.getKey());
      if (other == null) {
        throw mismatch(
            checkpoint,
            base,
            "it has no tensor '" + entry.getKey() + "', which the base model has");
      }
      TensorInfo mine = entry.getValue().info();
      if (!Arrays.equals(mine.shape(), other.info().shape())) {
        throw mismatch(
            checkpoint,
            base,
            "tensor '"
                + entry.getKey()
                + "' has shape "
                + other.info().shapeText()
                + " but "
                + mine.shapeText()
                + " in the base model");
      }
      if (mine.dtype().isFloat() != other.info().dtype().isFloat()) {
        throw mismatch(
            checkpoint,
            base,
            "tensor '"
                + entry.getKey()
                + "' is "
                + other.info().dtype()
                + " but "
                + mine.dtype()
                + " in the base model; only floating dtypes may differ");
      }
    }
    for (String name : theirs.keySet()) {
      if (!base.tensors().containsKey(name)) {
        throw mismatch(
            checkpoint, base, "it has a tensor '" + name + "' that the base model does not have");
      }
    }
  }

  private static FileFormatException mismatch(
      HfModelFiles checkpoint, HfModelFiles base, String reason) {
    return new FileFormatException(
        "Cannot merge checkpoint "
            + Locations.redact(checkpoint.location())
            + " into base model "
            + Locations.redact(base.location())
            + ": "
            + reason
            + ". --finetuned must list full fine-tunes of the --base model, saved with the same"
            + " architecture (save_pretrained).");
  }

  private static TensorDelta delta(HfModelFiles base, HfModelFiles checkpoint, String name)
      throws FileFormatException {
    var mine = base.require(name);
    var theirs = checkpoint.require(name);
    return new TensorDelta(
        checkpoint.location(),
        name,
        theirs.shard().header().restrictedTo(List.of(name)),
        mine.shard().header().restrictedTo(List.of(name)));
  }

  @Override
  public String kind() {
    return "checkpoint";
  }

  @Override
  public List<String> locations() {
    return checkpoints;
  }

  /** Every 2-D floating weight not excluded, sorted by key. */
  @Override
  public List<ModuleSpec> modules() {
    return modules;
  }

  @Override
  public List<PlainTensor> plainTensors() {
    return plainTensors;
  }

  @Override
  public List<String> warnings() {
    return warnings;
  }

  /** Full checkpoints are compared in the orientation they are stored in. */
  @Override
  public boolean fanInFanOut() {
    return false;
  }

  /** An adapter extracted from the merge names the base model it applies to. */
  @Override
  public AdapterWriter adapterSettings(AdapterWriter writer) {
    return writer.baseModel(Locations.redact(base.location()));
  }

  /** The base model the checkpoints were fine-tuned from. */
  public HfModelFiles base() {
    return base;
  }
}
