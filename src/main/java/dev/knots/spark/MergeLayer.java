package dev.knots.spark;

import dev.knots.job.AlignedModule;
import dev.knots.job.MergedModule;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.Function;

/** The merge task of one layer: top-K, sign election and combine, given the global statistics. */
final class MergeLayer implements Function<AlignedLayer, MergedLayer> {
  private static final long serialVersionUID = 1L;

  private final MergeMethod method;
  private final MergeParameters parameters;
  private final MergeStatistics statistics;

  MergeLayer(MergeMethod method, MergeParameters parameters, MergeStatistics statistics) {
    this.method = method;
    this.parameters = parameters;
    this.statistics = statistics;
  }

  @Override
  public MergedLayer call(AlignedLayer layer) {
    List<MergedModule> merged = new ArrayList<>();
    for (AlignedModule module : layer.modules()) {
      merged.add(MergedModule.of(module, module.merge(method, parameters, statistics)));
    }
    return new MergedLayer(layer.index(), merged);
  }
}
