package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.job.AlignedModule;
import dev.knots.job.ModuleAligner;
import dev.knots.knots.Concat;
import dev.knots.plan.AlignPath;
import dev.knots.plan.LayerPlan;
import dev.knots.plan.ModulePlan;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.FlatMapFunction2;
import org.apache.spark.broadcast.Broadcast;
import scala.Tuple2;

/**
 * The align task of one layer: reads only the layer's factor byte ranges and runs each module's
 * joint SVD. Modules planned DISTRIBUTED arrive already aligned, zipped in by layer index (see
 * {@link DistributedAlignment}); the merge treats them like any other. Without such modules it runs
 * over the layer indices alone, so the job needs no shuffle to zip in nothing. Holds nothing but
 * what the executor needs.
 */
final class AlignLayer
    implements FlatMapFunction2<
            Iterator<Integer>, Iterator<Tuple2<Integer, AlignedModule>>, AlignedLayer>,
        FlatMapFunction<Iterator<Integer>, AlignedLayer> {
  private static final long serialVersionUID = 1L;

  private final Concat concat;
  private final FileStore store;

  /** Every layer's plan, by index. */
  private final Broadcast<List<LayerPlan>> layerPlans;

  AlignLayer(Concat concat, FileStore store, Broadcast<List<LayerPlan>> layerPlans) {
    this.concat = concat;
    this.store = store;
    this.layerPlans = layerPlans;
  }

  @Override
  public Iterator<AlignedLayer> call(Iterator<Integer> layers) throws Exception {
    return call(layers, Collections.emptyIterator());
  }

  @Override
  public Iterator<AlignedLayer> call(
      Iterator<Integer> layers, Iterator<Tuple2<Integer, AlignedModule>> distributed)
      throws Exception {
    Map<String, AlignedModule> alignedElsewhere = new HashMap<>();
    distributed.forEachRemaining(m -> alignedElsewhere.put(m._2().key(), m._2()));
    List<AlignedLayer> out = new ArrayList<>();
    while (layers.hasNext()) {
      out.add(alignHere(layerPlans.value().get(layers.next()), concat, store, alignedElsewhere));
    }
    return out.iterator();
  }

  /**
   * Aligns {@code layer}'s modules, reading through {@code store}, except those planned
   * DISTRIBUTED, which come aligned in {@code alignedElsewhere}.
   */
  static AlignedLayer alignHere(
      LayerPlan layer, Concat concat, FileStore store, Map<String, AlignedModule> alignedElsewhere)
      throws IOException {
    List<AlignedModule> modules = new ArrayList<>();
    for (ModulePlan module : layer.modules()) {
      AlignedModule aligned;
      if (module.path() == AlignPath.DISTRIBUTED) {
        aligned = requireAligned(alignedElsewhere, module, layer);
        ModuleAligner.requireFloat32(module.spec(), aligned);
      } else {
        aligned = ModuleAligner.align(module, concat, store);
      }
      modules.add(aligned);
    }
    return new AlignedLayer(layer.index(), modules);
  }

  private static AlignedModule requireAligned(
      Map<String, AlignedModule> alignedElsewhere, ModulePlan module, LayerPlan layer) {
    AlignedModule aligned = alignedElsewhere.get(module.key());
    if (aligned == null) {
      throw new IllegalStateException(
          "Module "
              + module.key()
              + " of "
              + layer.name()
              + " was planned distributed but its alignment did not reach the layer's task."
              + " This is a bug in the knots-merge job.");
    }
    return aligned;
  }
}
