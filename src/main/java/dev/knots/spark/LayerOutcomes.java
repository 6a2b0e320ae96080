package dev.knots.spark;

import dev.knots.job.AlignedModule;
import dev.knots.job.MergedModule;
import dev.knots.job.ModuleOutcome;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.Function;

/**
 * The merge task of one layer for a merge that writes nothing (a sweep's {@code format: none}):
 * each module's outcome and diagnostics, without building its LoRA factors.
 */
final class LayerOutcomes implements Function<AlignedLayer, List<ModuleOutcome>> {
  private static final long serialVersionUID = 1L;

  private final MergeMethod method;
  private final MergeParameters parameters;
  private final MergeStatistics statistics;

  LayerOutcomes(MergeMethod method, MergeParameters parameters, MergeStatistics statistics) {
    this.method = method;
    this.parameters = parameters;
    this.statistics = statistics;
  }

  @Override
  public List<ModuleOutcome> call(AlignedLayer layer) {
    List<ModuleOutcome> outcomes = new ArrayList<>();
    for (AlignedModule module : layer.modules()) {
      outcomes.add(MergedModule.outcome(module, module.merge(method, parameters, statistics)));
    }
    return outcomes;
  }
}
