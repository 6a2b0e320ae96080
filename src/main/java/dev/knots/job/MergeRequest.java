package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.peft.LoraModule;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.CheckpointSet;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.VectorPolicy;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Everything a merge needs to know, validated as a whole before any file is read. The tasks are
 * either LoRA adapters or full fine-tuned checkpoints of {@code base}, never both.
 *
 * @param adapters adapter directories, in task order (empty when merging checkpoints)
 * @param base the base model directory; required for {@link OutputFormat#MODEL}, BOTH and for
 *     checkpoints
 * @param finetuned full fine-tuned model directories, in task order (empty when merging adapters)
 * @param exclude checkpoints only: tensors whose name this regex finds are taken from the base
 * @param vectors checkpoints only: what happens to floating tensors that are not 2-D weights
 * @param loraRank checkpoints only: the rank of the LoRA adapter extracted from the merge
 */
public record MergeRequest(
    List<String> adapters,
    MergeMethod method,
    MergeParameters parameters,
    Concat concat,
    String output,
    OutputFormat format,
    Optional<String> base,
    List<String> finetuned,
    Optional<String> exclude,
    VectorPolicy vectors,
    OptionalInt loraRank) {

  public MergeRequest {
    adapters = List.copyOf(adapters);
    finetuned = List.copyOf(finetuned);
    if (!adapters.isEmpty() && !finetuned.isEmpty()) {
      throw new InvalidOptionException(
          "--finetuned",
          finetuned,
          "cannot be combined with --adapters; merge either LoRA adapters or full fine-tuned"
              + " checkpoints");
    }
    if (adapters.isEmpty() && finetuned.isEmpty()) {
      throw new InvalidOptionException(
          "--adapters",
          "(none)",
          "give at least one adapter directory, or full fine-tuned checkpoints with --finetuned");
    }
    List<String> inputs = adapters.isEmpty() ? finetuned : adapters;
    String option = adapters.isEmpty() ? "--finetuned" : "--adapters";
    for (String input : inputs) {
      if (input.isBlank()) {
        throw new InvalidOptionException(
            option, "'" + String.join(",", inputs) + "'", "has an empty entry; list directories");
      }
    }
    if (base.isPresent() && base.get().isBlank()) {
      throw new InvalidOptionException("--base", "''", "is empty; give the base model directory");
    }
    try {
      OutputCommit.destination(output);
    } catch (IllegalArgumentException e) {
      throw new InvalidOptionException(
          "--output",
          output.isBlank() ? "'" + output + "'" : output,
          "give the output directory itself, inside a root or bucket, such as out/merged,"
              + " /data/merged or s3a://bucket/merged");
    }
    parameters.checkTaskCount(inputs.size());
    if (!finetuned.isEmpty()) {
      checkCheckpointOptions(finetuned, format, base, exclude, loraRank);
    } else if (exclude.isPresent() || loraRank.isPresent()) {
      throw new InvalidOptionException(
          exclude.isPresent() ? "--exclude" : "--lora-rank",
          exclude.isPresent() ? exclude.get() : loraRank.getAsInt(),
          "applies only to full fine-tuned checkpoints (--finetuned)");
    }
    if (format.writesModel() && base.isEmpty()) {
      throw new InvalidOptionException(
          "--format",
          format.optionValue(),
          "writing a model needs the base model: add --base <dir>");
    }
  }

  /** A merge of LoRA adapters. */
  public MergeRequest(
      List<String> adapters,
      MergeMethod method,
      MergeParameters parameters,
      Concat concat,
      String output,
      OutputFormat format,
      Optional<String> base) {
    this(
        adapters,
        method,
        parameters,
        concat,
        output,
        format,
        base,
        List.of(),
        Optional.empty(),
        VectorPolicy.MERGE,
        OptionalInt.empty());
  }

  private static void checkCheckpointOptions(
      List<String> finetuned,
      OutputFormat format,
      Optional<String> base,
      Optional<String> exclude,
      OptionalInt loraRank) {
    if (base.isEmpty()) {
      throw new InvalidOptionException(
          "--finetuned",
          finetuned,
          "a checkpoint's update is finetuned - base, so --base <dir> is required: the model they"
              + " were all fine-tuned from");
    }
    if (format.writesAdapter() && loraRank.isEmpty()) {
      throw new InvalidOptionException(
          "--format",
          format.optionValue(),
          "with --finetuned an adapter is a LoRA extracted from the merged update: add"
              + " --lora-rank <r> (for example --lora-rank 64), or write the model (--format model)");
    }
    if (loraRank.isPresent() && loraRank.getAsInt() < 1) {
      throw new InvalidOptionException("--lora-rank", loraRank.getAsInt(), "must be at least 1");
    }
    if (exclude.isPresent()) {
      try {
        Pattern.compile(exclude.get());
      } catch (PatternSyntaxException e) {
        throw new InvalidOptionException(
            "--exclude", exclude.get(), "not a valid regular expression: " + e.getDescription());
      }
    }
  }

  /**
   * Refuses an input listed twice and an {@code --output} that is, contains or lies inside an input
   * ({@code --adapters}, {@code --finetuned}, {@code --base}), with or without {@code --overwrite}:
   * replacing it would destroy the input. Locations are compared in the store's canonical form, so
   * relative paths, {@code ..}, symbolic links, {@code file:} URIs and trailing slashes hide
   * neither.
   *
   * @throws InvalidOptionException naming the options and locations
   * @throws IOException if the store cannot resolve a location
   */
  public void checkLocations(FileStore store) throws IOException {
    String destination = store.canonical(OutputCommit.destination(output));
    String option = mergesCheckpoints() ? "--finetuned" : "--adapters";
    Map<String, Integer> seen = new HashMap<>();
    List<String> inputs = inputs();
    for (int i = 0; i < inputs.size(); i++) {
      String input = inputs.get(i);
      String canonical = store.canonical(input);
      Integer earlier = seen.putIfAbsent(canonical, i);
      if (earlier != null) {
        throw new InvalidOptionException(
            option,
            String.join(",", inputs),
            "entries "
                + (earlier + 1)
                + " ("
                + inputs.get(earlier)
                + ") and "
                + (i + 1)
                + " ("
                + input
                + ") are the same directory; list each input once");
      }
      refuseOverlap(destination, canonical, option + " entry " + (i + 1) + " (" + input + ")");
    }
    if (base.isPresent()) {
      refuseOverlap(destination, store.canonical(base.get()), "--base (" + base.get() + ")");
    }
  }

  private void refuseOverlap(String destination, String input, String inputName) {
    String relation =
        destination.equals(input)
            ? "it is the same directory as "
            : input.startsWith(destination + "/")
                ? "it contains "
                : destination.startsWith(input + "/") ? "it lies inside " : null;
    if (relation != null) {
      throw new InvalidOptionException(
          "--output",
          output,
          relation
              + inputName
              + ", so writing the merge there would destroy an input, also with --overwrite;"
              + " choose an --output outside every input");
    }
  }

  /** True when the tasks are full fine-tuned checkpoints rather than adapters. */
  public boolean mergesCheckpoints() {
    return !finetuned.isEmpty();
  }

  /** The task input directories, in task order. */
  public List<String> inputs() {
    return mergesCheckpoints() ? finetuned : adapters;
  }

  public int taskCount() {
    return inputs().size();
  }

  /** Opens the inputs from their headers only and checks them against each other. */
  public MergeInputs openInputs(FileStore store, LoraAdapter.UnsupportedTensors unsupported)
      throws IOException {
    if (mergesCheckpoints()) {
      return CheckpointSet.open(
          store, base.orElseThrow(), finetuned, exclude.map(Pattern::compile), vectors);
    }
    AdapterSet set = AdapterSet.open(store, adapters, unsupported);
    requireScaledUpdatesFitFloat32(set);
    return set;
  }

  /**
   * Refuses a {@code --scaling} coefficient whose product with an adapter's LoRA scaling is beyond
   * float32's range: the merge multiplies the adapter's {@code lora_B @ lora_A} by both, and a
   * factor float32 cannot hold is refused as the LoRA scaling alone is ({@link LoraAdapter}).
   */
  private void requireScaledUpdatesFitFloat32(AdapterSet set) {
    for (int i = 0; i < set.adapters().size(); i++) {
      LoraAdapter adapter = set.adapters().get(i);
      double lambda = parameters.scaling(i);
      for (LoraModule module : adapter.modules().values()) {
        double factor = lambda * module.scale();
        if (Math.abs(factor) > Float.MAX_VALUE) {
          throw new InvalidOptionException(
              "--scaling",
              lambda,
              "adapter "
                  + Locations.redact(adapter.location())
                  + " has a LoRA scaling of "
                  + module.scale()
                  + " for module "
                  + module.key()
                  + " (from "
                  + adapter.config().alphaKeyFor(module.key())
                  + "), so the merge would multiply its update by "
                  + lambda
                  + " x "
                  + module.scale()
                  + " = "
                  + factor
                  + ", beyond float32's largest value ("
                  + Float.MAX_VALUE
                  + "), in which the merge holds the updates. Give this adapter a coefficient of at"
                  + " most "
                  + Float.MAX_VALUE / Math.abs(module.scale())
                  + " in magnitude");
        }
      }
    }
  }
}
