package dev.knots.spark;

import dev.knots.job.AlignedModule;
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
    boolean[] needsMajority = new boolean[layer.modules().size()];
    SignVote vote = SignVote.NONE;
    for (int m = 0; m < needsMajority.length; m++) {
      AlignedModule module = layer.modules().get(m);
      MergedVector vector = ModuleMerge.merge(method, parameters, statistics, module.vectors());
      merged.add(MergedModule.of(module, vector.values(), vector.usedPerTask()));
      needsMajority[m] = vector.vote().needsMajority();
      vote = vote.plus(vector.vote());
    }
    if (!statistics.majorityPending() || !vote.needsMajority()) {
      return new MergedLayer(layer.index(), merged, vote);
    }
    // Waiting for the global vote would cost another pass over the layer; merging the few modules
    // that need it once per possible majority costs little.
    // The pass above ran with the majority counted as 0: that is the majority-0 variant.
    List<List<MergedModule>> byMajority = new ArrayList<>();
    for (int majority = -1; majority <= 1; majority++) {
      if (majority == 0) {
        byMajority.add(merged);
        continue;
      }
      MergeStatistics known = statistics.withMajority(majority);
      List<MergedModule> variant = new ArrayList<>(merged);
      for (int m = 0; m < variant.size(); m++) {
        if (needsMajority[m]) {
          AlignedModule module = layer.modules().get(m);
          MergedVector vector = ModuleMerge.merge(method, parameters, known, module.vectors());
          variant.set(m, MergedModule.of(module, vector.values(), vector.usedPerTask()));
        }
      }
      byMajority.add(variant);
    }
    return new MergedLayer(layer.index(), vote, byMajority);
  }
}
