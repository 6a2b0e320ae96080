package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.knots.Alignment;
import dev.knots.knots.Concat;
import dev.knots.knots.JointSvd;
import dev.knots.knots.LoraFactors;
import dev.knots.knots.TaskUpdate;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AlignPath;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.UpdateSource;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The align step for one module: read its updates, and run the joint SVD if the method asks. */
public final class ModuleAligner {

  private ModuleAligner() {}

  /**
   * Reads every task's update of the module (ranged reads only) and returns the representations the
   * merge works on, by the module's path: {@link AlignPath#FACTOR}, KnOTS's {@code R_i} from the
   * exact factor-space joint SVD (never forming an O x I matrix); {@link AlignPath#DENSE}, the same
   * from the SVD of the stacked dense updates; {@link AlignPath#NONE}, each {@code dW_i = g_i B_i
   * A_i} itself. {@link AlignPath#DISTRIBUTED} reaches here only in the single-process merge, which
   * has no cluster to distribute to: it runs as DENSE, the same joint SVD without the Gramian's
   * loss of precision, so a plan made for Spark still runs (slowly, if the module is large).
   */
  public static AlignedModule align(ModulePlan module, Concat concat, FileStore store)
      throws IOException {
    ModuleSpec spec = module.spec();
    List<TaskUpdate> updates = new ArrayList<>(spec.taskCount());
    for (UpdateSource source : spec.sources()) {
      updates.add(source == null ? LoraFactors.zero(spec.out(), spec.in()) : source.read(store));
    }
    return switch (module.path()) {
      case FACTOR -> fromAlignment(spec.key(), JointSvd.ofFactors(factors(spec, updates), concat));
      case DENSE, DISTRIBUTED ->
          fromAlignment(spec.key(), JointSvd.ofDense(deltas(updates), concat));
      case NONE -> {
        float[][] deltas = new float[updates.size()][];
        for (int i = 0; i < deltas.length; i++) {
          deltas[i] = updates.get(i).delta().toFloats();
        }
        yield new AlignedModule(
            spec.key(), spec.out(), spec.in(), concat, null, new double[0], deltas);
      }
    };
  }

  private static List<Matrix> deltas(List<TaskUpdate> updates) {
    return updates.stream().map(TaskUpdate::delta).toList();
  }

  private static List<LoraFactors> factors(ModuleSpec spec, List<TaskUpdate> updates) {
    List<LoraFactors> factors = new ArrayList<>();
    for (TaskUpdate update : updates) {
      if (!(update instanceof LoraFactors f)) {
        throw new IllegalStateException(
            "Module " + spec.key() + " was planned on the factor path but has a dense update");
      }
      factors.add(f);
    }
    return factors;
  }

  /** Wraps a joint SVD's result, from either path, as the merge's input. */
  public static AlignedModule fromAlignment(String key, Alignment alignment) {
    float[][] representations = new float[alignment.taskCount()][];
    for (int i = 0; i < representations.length; i++) {
      representations[i] = alignment.representations().get(i).toFloats();
    }
    Matrix u = alignment.u();
    return new AlignedModule(
        key,
        alignment.outFeatures(),
        alignment.inFeatures(),
        alignment.concat(),
        u,
        alignment.s().clone(),
        representations);
  }
}
