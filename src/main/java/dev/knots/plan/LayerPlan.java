package dev.knots.plan;

import java.io.Serializable;
import java.util.List;

/**
 * The modules one Spark task aligns and merges together: a transformer layer ({@code
 * model.layers.12}), or a single module outside the layers ({@code lm_head}).
 *
 * @param index the position of this layer in the plan, which is also its partition
 */
public record LayerPlan(int index, String name, List<ModulePlan> modules) implements Serializable {

  public LayerPlan {
    modules = List.copyOf(modules);
  }

  /** Bytes of factor data the layer's task reads: its tensors' byte ranges, all adapters. */
  public long inputBytes() {
    return modules.stream().mapToLong(m -> m.spec().inputBytes()).sum();
  }
}
