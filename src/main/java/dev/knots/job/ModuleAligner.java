package dev.knots.job;

import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.knots.Alignment;
import dev.knots.knots.Concat;
import dev.knots.knots.JointSvd;
import dev.knots.knots.LoraFactors;
import dev.knots.knots.TaskUpdate;
import dev.knots.linalg.Matrix;
import dev.knots.plan.AlignPath;
import dev.knots.plan.FactorSource;
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
    AlignedModule aligned =
        switch (module.path()) {
          case FACTOR ->
              fromAlignment(spec.key(), JointSvd.ofFactors(factors(spec, updates), concat));
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
    requireFloat32(spec, aligned);
    return aligned;
  }

  /**
   * Fails naming the input and the module when a task's representation, rounded to float32, is
   * infinite: its update, or what KnOTS makes of it, is beyond the range of float32, in which the
   * merge holds it (the factors and scalings were checked on their own when the inputs were opened;
   * this is their product).
   */
  public static void requireFloat32(ModuleSpec spec, AlignedModule aligned)
      throws FileFormatException {
    float[][] representations = aligned.representations();
    for (int i = 0; i < representations.length; i++) {
      if (allFinite(representations[i])) {
        continue;
      }
      // a task without a source has a zero update, which is finite
      UpdateSource source = spec.sources().get(i);
      String beyond =
          (aligned.isAligned() ? ", aligned by KnOTS," : "")
              + " is beyond float32's range (an entry above "
              + Float.MAX_VALUE
              + " in magnitude), in which the merge holds the updates. ";
      if (source instanceof FactorSource factors) {
        throw new FileFormatException(
            "Cannot use adapter "
                + source.origin()
                + ": its update of module "
                + spec.key()
                + " (LoRA scaling "
                + factors.scale()
                + " x lora_B @ lora_A)"
                + beyond
                + "Its lora_alpha or its factors are far too large: correct lora_alpha in "
                + LoraAdapter.CONFIG_FILE
                + ", or retrain the adapter or leave it out.");
      }
      throw new FileFormatException(
          "Cannot use checkpoint "
              + source.origin()
              + ": its update of "
              + spec.key()
              + " (fine-tuned minus base)"
              + beyond
              + "Check that the checkpoint was fine-tuned from this --base.");
    }
  }

  private static boolean allFinite(float[] values) {
    for (float v : values) {
      if (!Float.isFinite(v)) {
        return false;
      }
    }
    return true;
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
