package dev.knots.job;

import dev.knots.merge.ModuleDiagnostics;
import java.util.List;

/**
 * The outcome of a merge, module by module, with totals.
 *
 * @param changesNotInAdapter tensors the merge changes that an adapter extracted from it cannot
 *     carry (non-2-D tensors of checkpoints); empty when no adapter is extracted
 */
public record MergeResult(List<ModuleOutcome> modules, List<String> changesNotInAdapter) {

  public MergeResult {
    modules = List.copyOf(modules);
    changesNotInAdapter = List.copyOf(changesNotInAdapter);
  }

  public MergeResult(List<ModuleOutcome> modules) {
    this(modules, List.of());
  }

  /** Per task, the entries that went into the merge over all modules. */
  public long[] usedPerTask() {
    long[] total = new long[modules.isEmpty() ? 0 : modules.get(0).usedPerTask().length];
    for (ModuleOutcome module : modules) {
      for (int i = 0; i < total.length; i++) {
        total[i] += module.usedPerTask()[i];
      }
    }
    return total;
  }

  /** The data-free diagnostics summed over every module. */
  public ModuleDiagnostics diagnostics() {
    ModuleDiagnostics total = ModuleDiagnostics.zero(usedPerTask().length);
    for (ModuleOutcome module : modules) {
      total = total.plus(module.diagnostics());
    }
    return total;
  }

  public ModuleOutcome module(String key) {
    return modules.stream()
        .filter(m -> m.key().equals(key))
        .findFirst()
        .orElseThrow(() -> new IllegalArgumentException("No module " + key + " in this merge"));
  }
}
