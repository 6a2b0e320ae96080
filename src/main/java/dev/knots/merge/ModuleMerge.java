package dev.knots.merge;

import java.util.Arrays;
import java.util.Locale;

/**
 * The per-module steps of a merge (docs/merging.md, section 3): DARE, top-K pruning, sign election
 * and the combine rule, applied to the task vectors of one module. Runs wherever the module lives;
 * the only cross-module inputs are the {@link MergeStatistics}.
 */
public final class ModuleMerge {

  private ModuleMerge() {}

  /**
   * Step 1: the merge's vectors of one module: DARE applied to a copy of the representations for
   * methods that drop entries (so the aligned representations serve every merge point and the
   * diagnostics), the representations themselves otherwise.
   *
   * @param representations {@code [task][entry]}, each task in the same layout; not modified
   */
  public static ModuleVectors prepare(
      MergeMethod method, MergeParameters parameters, String module, float[][] representations) {
    if (!method.dropsAndRescales()) {
      return new ModuleVectors(module, representations);
    }
    float[][] dropped = new float[representations.length][];
    for (int i = 0; i < representations.length; i++) {
      dropped[i] = representations[i].clone();
      Dare.apply(dropped[i], parameters.dareDrop(), parameters.seed(), i, module);
    }
    return new ModuleVectors(module, dropped);
  }

  /**
   * Steps 2-4 on one module's prepared vectors: the merged vector (same length and layout as each
   * task's) and how many entries of each task went into it. The work is done by {@link
   * MergeKernels}, which give the bits of the plain entry-by-entry loop in vectorized loops.
   *
   * @throws InvalidOptionException naming the module, an input and its {@code --scaling}
   *     coefficient when a merged entry is beyond float32's range
   */
  public static MergedVector merge(
      MergeMethod method,
      MergeParameters parameters,
      MergeStatistics statistics,
      ModuleVectors vectors) {
    MergedVector merged = combine(method, parameters, statistics, vectors);
    requireFloat32(method, parameters, vectors, merged.values());
    return merged;
  }

  /**
   * Fails, naming the module, the input that contributes most and its {@code --scaling}
   * coefficient, when a merged entry is beyond float32's range, the type of the merged output.
   * Every task's vector fits float32 (the align step checks it), so only the coefficients, DARE's
   * rescaling or the sum of several tasks can take an entry there.
   */
  private static void requireFloat32(
      MergeMethod method, MergeParameters parameters, ModuleVectors vectors, double[] merged) {
    for (int j = 0; j < merged.length; j++) {
      if (Math.abs(merged[j]) <= Float.MAX_VALUE) {
        continue;
      }
      int largest = 0;
      double largestPart = 0;
      for (int i = 0; i < vectors.taskCount(); i++) {
        double part = Math.abs(parameters.scaling(i) * vectors.tasks()[i][j]);
        if (part > largestPart) {
          largest = i;
          largestPart = part;
        }
      }
      throw new InvalidOptionException(
          "--scaling",
          parameters.scaling(largest),
          "the merge of "
              + vectors.module()
              + " reaches "
              + String.format(Locale.ROOT, "%.4g", merged[j])
              + " at entry "
              + j
              + ", beyond float32's largest value ("
              + Float.MAX_VALUE
              + "), the type of the merged output; most of it comes from input "
              + (largest + 1)
              + " (in the order of --adapters or --finetuned), whose update there times this"
              + " coefficient is "
              + String.format(Locale.ROOT, "%.4g", largestPart)
              + ". Lower its coefficient"
              + (method.dropsAndRescales()
                  ? ", or --dare-drop, as DARE multiplies the entries it keeps by 1 / (1 - p)"
                  : ""));
    }
  }

  /**
   * Steps 2-4 without the range check: the kernels' results, whatever the values (tested bit for
   * bit against the steps of docs/merging.md on non-finite data too).
   */
  static MergedVector combine(
      MergeMethod method,
      MergeParameters parameters,
      MergeStatistics statistics,
      ModuleVectors vectors) {
    int n = vectors.taskCount();
    float[][] x = vectors.tasks();
    double[] keepAbove = keepAbove(parameters, statistics, vectors);
    double[] lambda = new double[n];
    for (int i = 0; i < n; i++) {
      lambda[i] = parameters.scaling(i);
    }
    double[] merged = new double[vectors.length()];
    long[] used = new long[n];
    if (!method.electsSign()) {
      MergeKernels.scaledSum(x, keepAbove, lambda, merged, used);
      return new MergedVector(merged, used, SignVote.NONE);
    }
    if (parameters.scope() == Scope.GLOBAL) {
      // The statistics' majority; 0 in the statistics' own voting pass, which only counts signs.
      SignVote vote =
          MergeKernels.disjointMean(x, keepAbove, lambda, statistics.majoritySign(), merged, used);
      return new MergedVector(merged, used, vote);
    }
    // Module scope: the module's own majority, sign(sum of the elected signs). The pass run with it
    // pending sums those signs as it goes, and its result stands unless an entry needed the
    // majority and the majority is not 0 (an exact cancellation: rare); then it runs again.
    SignVote vote = MergeKernels.disjointMean(x, keepAbove, lambda, 0, merged, used);
    int majority = Long.signum(vote.signSum());
    if (vote.needsMajority() && majority != 0) {
      Arrays.fill(merged, 0);
      Arrays.fill(used, 0);
      vote = MergeKernels.disjointMean(x, keepAbove, lambda, majority, merged, used);
    }
    return new MergedVector(merged, used, vote);
  }

  /**
   * The module's share of the majority-sign vote with {@code pruning}'s thresholds: what {@link
   * #merge} with the majority pending would vote, without merging.
   */
  static SignVote vote(MergeParameters parameters, MergeStatistics pruning, ModuleVectors vectors) {
    return MergeKernels.vote(vectors.tasks(), keepAbove(parameters, pruning, vectors));
  }

  /**
   * Per task, the largest magnitude top-K drops ({@link MergeKernels#keepAbove}): every threshold
   * is a float32 magnitude (or 0), so the float below it separates kept from dropped entries.
   */
  private static double[] keepAbove(
      MergeParameters parameters, MergeStatistics statistics, ModuleVectors vectors) {
    double[] keepAbove = new double[vectors.taskCount()];
    for (int i = 0; i < keepAbove.length; i++) {
      double threshold =
          parameters.scope() == Scope.GLOBAL
              ? statistics.threshold(i)
              : parameters.prunes()
                  ? MagnitudeSelection.thresholdOf(vectors.tasks()[i], parameters.keepFraction())
                  : 0;
      keepAbove[i] = MergeKernels.keepAbove((float) threshold);
    }
    return keepAbove;
  }
}
