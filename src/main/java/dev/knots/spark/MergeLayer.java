package dev.knots.spark;

import dev.knots.job.MergedModule;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.SignVote;
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
    SignVote vote = SignVote.NONE;
    for (int m = 0; m < layer.modules().size(); m++) {
      MergedVector vector =
          ModuleMerge.merge(method, parameters, statistics, layer.modules().get(m).vectors());
      merged.add(MergedModule.of(layer.modules().get(m), vector.values(), vector.usedPerTask()));
      vote = vote.plus(vector.vote());
    }
    return new MergedLayer(layer.index(), merged, vote);
  }
}
