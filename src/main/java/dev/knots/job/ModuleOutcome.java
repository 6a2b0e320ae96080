package dev.knots.job;

import dev.knots.merge.ModuleDiagnostics;
import java.io.Serializable;

/**
 * What became of one module: its shape, the KnOTS components aligned (0 for plain methods), the
 * merged rank, and per task how many entries went into the merge. When a LoRA is extracted from the
 * merge ({@code --lora-rank}), also its rank, the share of the update's Frobenius norm it keeps
 * and, for a module left out of the adapter, why.
 *
 * @param loraRank the extracted rank; 0 when left out or when nothing is extracted
 * @param loraKeptFraction {@code ||dW_r||_F / ||dW||_F}; NaN when nothing is extracted
 * @param loraLeftOut why the module is not in the extracted adapter, or null
 * @param diagnostics the module's share of the merge's data-free diagnostics (of the whole merged
 *     update, not of an extracted LoRA)
 */
public record ModuleOutcome(
    String key,
    int out,
    int in,
    int components,
    int rank,
    long[] usedPerTask,
    int loraRank,
    double loraKeptFraction,
    String loraLeftOut,
    ModuleDiagnostics diagnostics)
    implements Serializable {

  public static ModuleOutcome of(MergedModule merged) {
    return new ModuleOutcome(
        merged.key(),
        merged.out(),
        merged.in(),
        merged.components(),
        merged.rank(),
        merged.usedPerTask().clone(),
        0,
        Double.NaN,
        null,
        merged.diagnostics());
  }

  /** This outcome with what the LoRA extraction made of the module. */
  public ModuleOutcome with(ExtractedLora lora) {
    return new ModuleOutcome(
        key,
        out,
        in,
        components,
        rank,
        usedPerTask,
        lora.written().map(MergedModule::rank).orElse(0),
        lora.keptFraction(),
        lora.leftOut(),
        diagnostics);
  }

  /** True when a LoRA was extracted from the merge for the report. */
  public boolean extracted() {
    return !Double.isNaN(loraKeptFraction);
  }
}
