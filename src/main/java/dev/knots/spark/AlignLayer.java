package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.job.AlignedModule;
import dev.knots.job.ModuleAligner;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.plan.LayerPlan;
import dev.knots.plan.ModulePlan;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;

/**
 * The align task of one layer: reads only the layer's factor byte ranges, runs each module's joint
 * SVD and applies DARE. Holds nothing but what the executor needs.
 */
final class AlignLayer implements Function<LayerPlan, AlignedLayer> {
  private static final long serialVersionUID = 1L;

  private final MergeMethod method;
  private final MergeParameters parameters;
  private final Concat concat;
  private final FileStore store;

  /** Test seam: the first attempt of this layer's task fails (-1: never). */
  private final int failFirstAttemptOfLayer;

  AlignLayer(
      MergeMethod method,
      MergeParameters parameters,
      Concat concat,
      FileStore store,
      int failFirstAttemptOfLayer) {
    this.method = method;
    this.parameters = parameters;
    this.concat = concat;
    this.store = store;
    this.failFirstAttemptOfLayer = failFirstAttemptOfLayer;
  }

  @Override
  public AlignedLayer call(LayerPlan layer) throws Exception {
    TaskContext task = TaskContext.get();
    if (layer.index() == failFirstAttemptOfLayer && task != null && task.attemptNumber() == 0) {
      throw new IllegalStateException(
          "Injected failure in the first attempt of task "
              + layer.index()
              + " (test seam "
              + SparkMergeJob.FAIL_ONCE_CONF
              + ")");
    }
    List<AlignedModule> modules = new ArrayList<>();
    List<ModuleVectors> prepared = new ArrayList<>();
    for (ModulePlan module : layer.modules()) {
      AlignedModule aligned = ModuleAligner.align(module, concat, store);
      modules.add(aligned);
      prepared.add(
          ModuleMerge.prepare(method, parameters, aligned.key(), aligned.representations()));
    }
    return new AlignedLayer(layer.index(), modules, prepared);
  }
}
