package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.knots.Alignment;
import dev.knots.knots.Concat;
import dev.knots.knots.JointSvd;
import dev.knots.knots.LoraFactors;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AlignPath;
import dev.knots.plan.FactorSource;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.ModuleSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The align step for one module: read its factors, and run the joint SVD if the method asks. */
public final class ModuleAligner {

  private ModuleAligner() {}

  /**
   * Reads every task's factors of the module (two ranged reads per adapter) and returns the
   * representations the merge works on, by the module's path: {@link AlignPath#FACTOR}, KnOTS's
   * {@code R_i} from the exact factor-space joint SVD (never forming an O x I matrix); {@link
   * AlignPath#DENSE}, the same from the SVD of the stacked dense updates; {@link AlignPath#NONE},
   * each {@code dW_i = g_i B_i A_i} itself.
   */
  public static AlignedModule align(ModulePlan module, Concat concat, FileStore store)
      throws IOException {
    ModuleSpec spec = module.spec();
    List<LoraFactors> factors = new ArrayList<>(spec.taskCount());
    for (int i = 0; i < spec.taskCount(); i++) {
      FactorSource source = spec.factors().get(i);
      factors.add(source == null ? LoraFactors.zero(spec.out(), spec.in()) : source.read(store));
    }
    return switch (module.path()) {
      case FACTOR -> fromAlignment(spec.key(), JointSvd.ofFactors(factors, concat));
      case DENSE -> fromAlignment(spec.key(), JointSvd.ofDense(deltas(factors), concat));
      case NONE -> {
        double[][] updates = new double[factors.size()][];
        for (int i = 0; i < updates.length; i++) {
          updates[i] = factors.get(i).delta().data;
        }
        yield new AlignedModule(
            spec.key(), spec.out(), spec.in(), concat, null, new double[0], updates);
      }
    };
  }

  private static List<Matrix> deltas(List<LoraFactors> factors) {
    return factors.stream().map(LoraFactors::delta).toList();
  }

  /** Wraps a joint SVD's result, from either path, as the merge's input. */
  public static AlignedModule fromAlignment(String key, Alignment alignment) {
    double[][] representations = new double[alignment.taskCount()][];
    for (int i = 0; i < representations.length; i++) {
      representations[i] = alignment.representations().get(i).data;
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
