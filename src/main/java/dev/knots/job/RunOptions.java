package dev.knots.job;

import dev.knots.io.peft.LoraAdapter;
import dev.knots.plan.PathRequest;

/**
 * How to run a merge, beside what it computes.
 *
 * @param overwrite replace an existing output (only once the new one is complete)
 * @param unsupported what to do with adapter tensors we cannot merge (DoRA magnitudes, biases,
 *     embedding LoRA, modules_to_save) or PEFT would not apply (modules outside target_modules):
 *     refuse (default) or leave them out with a warning
 * @param paths the alignment path options ({@code --align-path} and the memory budgets)
 */
public record RunOptions(
    boolean overwrite, LoraAdapter.UnsupportedTensors unsupported, PathRequest paths) {

  /** Auto paths with the budgets derived from the Spark configuration. */
  public RunOptions(boolean overwrite, LoraAdapter.UnsupportedTensors unsupported) {
    this(overwrite, unsupported, PathRequest.auto());
  }

  public static RunOptions defaults() {
    return new RunOptions(false, LoraAdapter.UnsupportedTensors.REFUSE);
  }
}
