package dev.knots.job;

import java.util.ArrayList;
import java.util.List;

/**
 * What goes into the merged adapter for some merged modules, and their outcomes for the report: the
 * merged factors themselves (adapters, exact), or a LoRA extracted at a rank (checkpoints).
 *
 * @param written the modules to write, in the order given
 * @param outcomes one per merged module, with the extraction's rank and kept norm when extracted
 */
public record AdapterModules(List<MergedModule> written, List<ModuleOutcome> outcomes) {

  /** The merged factors exactly. */
  public static AdapterModules exact(List<MergedModule> merged) {
    return new AdapterModules(merged, merged.stream().map(ModuleOutcome::of).toList());
  }

  /** A LoRA of rank at most {@code rank} per module; zero and embedding updates are left out. */
  public static AdapterModules extracted(List<MergedModule> merged, int rank) {
    List<MergedModule> written = new ArrayList<>();
    List<ModuleOutcome> outcomes = new ArrayList<>();
    for (MergedModule module : merged) {
      ExtractedLora lora = ExtractedLora.of(module, rank);
      lora.written().ifPresent(written::add);
      outcomes.add(ModuleOutcome.of(module).with(lora));
    }
    return new AdapterModules(written, outcomes);
  }

  /** What the request asks for: extracted when it gives {@code --lora-rank}. */
  public static AdapterModules of(MergeRequest request, List<MergedModule> merged) {
    return request.loraRank().isPresent()
        ? extracted(merged, request.loraRank().getAsInt())
        : exact(merged);
  }
}
