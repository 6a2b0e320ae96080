package dev.knots.job;

import dev.knots.io.peft.LoraAdapter;

/**
 * How to run a merge, beside what it computes.
 *
 * @param overwrite replace an existing output (only once the new one is complete)
 * @param unsupported what to do with adapter tensors we cannot merge (DoRA magnitudes, biases,
 *     embedding LoRA, modules_to_save): refuse (default) or leave them out with a warning
 */
public record RunOptions(boolean overwrite, LoraAdapter.UnsupportedTensors unsupported) {

  public static RunOptions defaults() {
    return new RunOptions(false, LoraAdapter.UnsupportedTensors.REFUSE);
  }
}
