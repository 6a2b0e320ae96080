package dev.knots.spark;

import dev.knots.job.AlignedModule;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.Mergeable;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleScan;
import java.io.Serializable;
import java.util.function.IntConsumer;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.function.Function2;

/**
 * Folds the merge's global statistics over the persisted aligned layers: each task folds its
 * layers' modules into a copy of the zero summary, and Spark merges the task results. The folds
 * only read the persisted layers, so they run one task per core (the cost of a task, not of the
 * data, dominates them).
 */
final class RddModuleScan implements ModuleScan {
  private final JavaRDD<AlignedLayer> layers;
  private final MergeMethod method;
  private final MergeParameters parameters;
  private final IntConsumer beforeEachRound;
  private int rounds;

  /**
   * @param method with {@code parameters}, how the merge prepares each module's vectors (DARE)
   * @param beforeEachRound told the number of each round (from 1) before it runs, to describe it
   */
  RddModuleScan(
      JavaRDD<AlignedLayer> layers,
      MergeMethod method,
      MergeParameters parameters,
      IntConsumer beforeEachRound) {
    this.layers = layers;
    this.method = method;
    this.parameters = parameters;
    this.beforeEachRound = beforeEachRound;
  }

  @Override
  public <S extends Mergeable<S> & Serializable> S aggregate(S zero, Fold<S> add) {
    beforeEachRound.accept(++rounds);
    int cores = layers.context().defaultParallelism();
    return layers
        .coalesce(Math.max(1, Math.min(cores, layers.getNumPartitions())))
        .aggregate(zero, new FoldLayer<>(method, parameters, add), new MergeSummaries<>());
  }

  private static final class FoldLayer<S> implements Function2<S, AlignedLayer, S> {
    private static final long serialVersionUID = 1L;
    private final MergeMethod method;
    private final MergeParameters parameters;
    private final Fold<S> add;

    FoldLayer(MergeMethod method, MergeParameters parameters, Fold<S> add) {
      this.method = method;
      this.parameters = parameters;
      this.add = add;
    }

    @Override
    public S call(S acc, AlignedLayer layer) {
      S result = acc;
      for (AlignedModule module : layer.modules()) {
        result =
            add.apply(
                result,
                ModuleMerge.prepare(method, parameters, module.key(), module.representations()));
      }
      return result;
    }
  }

  private static final class MergeSummaries<S extends Mergeable<S>> implements Function2<S, S, S> {
    private static final long serialVersionUID = 1L;

    @Override
    public S call(S a, S b) {
      return a.merge(b);
    }
  }
}
