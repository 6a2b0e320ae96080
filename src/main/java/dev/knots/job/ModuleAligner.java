package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.knots.Alignment;
import dev.knots.knots.Concat;
import dev.knots.knots.JointSvd;
import dev.knots.knots.LoraFactors;
import dev.knots.linalg.Matrix;
import dev.knots.plan.FactorSource;
import dev.knots.plan.ModuleSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The align step for one module: read its factors, and run the joint SVD if the method asks. */
public final class ModuleAligner {

  private ModuleAligner() {}

  /**
   * Reads every task's factors of {@code spec} (two ranged reads per adapter) and returns the
   * representations the merge works on: KnOTS's {@code R_i} from the exact factor-space joint SVD
   * (never forming an O x I matrix) when {@code aligned}, else each {@code dW_i = g_i B_i A_i}.
   */
  public static AlignedModule align(
      ModuleSpec spec, boolean aligned, Concat concat, FileStore store) throws IOException {
    List<LoraFactors> factors = new ArrayList<>(spec.taskCount());
    for (int i = 0; i < spec.taskCount(); i++) {
      FactorSource source = spec.factors().get(i);
      factors.add(source == null ? LoraFactors.zero(spec.out(), spec.in()) : source.read(store));
    }
    if (!aligned) {
      double[][] updates = new double[factors.size()][];
      for (int i = 0; i < updates.length; i++) {
        updates[i] = factors.get(i).delta().toRowMajor();
      }
      return new AlignedModule(
          spec.key(), spec.out(), spec.in(), concat, null, new double[0], updates);
    }
    return fromAlignment(spec.key(), JointSvd.ofFactors(factors, concat));
  }

  /** Wraps a joint SVD's result, from either path, as the merge's input. */
  public static AlignedModule fromAlignment(String key, Alignment alignment) {
    double[][] representations = new double[alignment.taskCount()][];
    for (int i = 0; i < representations.length; i++) {
      representations[i] = alignment.representations().get(i).toRowMajor();
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
