package dev.knots.merge;

/**
 * The per-module steps of a merge (spec, "Merge methods"): DARE, top-K pruning, sign election and
 * the combine rule, applied to the task vectors of one module. Runs wherever the module lives; the
 * only cross-module inputs are the {@link MergeStatistics}.
 */
public final class ModuleMerge {

  private ModuleMerge() {}

  /**
   * Step 1: applies DARE to the representations, in place (the align step owns them and keeps only
   * the dropped ones, so DARE costs no second copy), and returns them as the merge's vectors.
   *
   * @param representations {@code [task][entry]}, each task in the same layout; modified by DARE
   */
  public static ModuleVectors prepare(
      MergeMethod method, MergeParameters parameters, String module, float[][] representations) {
    if (method.dropsAndRescales()) {
      for (int i = 0; i < representations.length; i++) {
        Dare.apply(representations[i], parameters.dareDrop(), parameters.seed(), i, module);
      }
    }
    return new ModuleVectors(module, representations);
  }

  /**
   * Steps 2-4 on one module's prepared vectors: the merged vector (same length and layout as each
   * task's) and how many entries of each task went into it.
   */
  public static MergedVector merge(
      MergeMethod method,
      MergeParameters parameters,
      MergeStatistics statistics,
      ModuleVectors vectors) {
    int n = vectors.taskCount();
    float[][] x = vectors.tasks();
    double[] thresholds = thresholds(parameters, statistics, vectors);
    int length = vectors.length();
    long[] used = new long[n];
    // Task-outer loops stream each task's vector once; every per-entry sum still runs over the
    // tasks in order, so results do not depend on the loop order.
    if (!method.electsSign()) {
      double[] merged = new double[length];
      for (int i = 0; i < n; i++) {
        float[] xi = x[i];
        double threshold = thresholds[i];
        double lambda = parameters.scaling(i);
        long kept = 0;
        for (int j = 0; j < length; j++) {
          if (Math.abs(xi[j]) >= threshold) {
            merged[j] += lambda * xi[j];
            kept++;
          }
        }
        used[i] = kept;
      }
      return new MergedVector(merged, used, SignVote.NONE);
    }
    double[] sigma = prunedSums(x, thresholds, length);
    long signSum = 0;
    for (double value : sigma) {
      signSum += (long) Math.signum(value);
    }
    // A pending global majority counts as 0 here; the vote says whether that mattered.
    int majority =
        parameters.scope() == Scope.MODULE ? Long.signum(signSum) : statistics.majoritySign();
    for (int j = 0; j < length; j++) {
      double sign = Math.signum(sigma[j]);
      sigma[j] = sign == 0 ? majority : sign;
    }
    boolean needsMajority = false;
    double[] sums = new double[length];
    int[] contributors = new int[length];
    for (int i = 0; i < n; i++) {
      float[] xi = x[i];
      double threshold = thresholds[i];
      double lambda = parameters.scaling(i);
      long agreeing = 0;
      for (int j = 0; j < length; j++) {
        double v = xi[j];
        // A zero entry has sign 0 and never matches, as in the reference's "!= 0" count.
        if (Math.abs(v) >= threshold && v != 0) {
          if (Math.signum(v) == sigma[j]) {
            sums[j] += lambda * v;
            contributors[j]++;
            agreeing++;
          } else if (sigma[j] == 0) {
            needsMajority = true;
          }
        }
      }
      used[i] = agreeing;
    }
    for (int j = 0; j < length; j++) {
      sums[j] = contributors[j] == 0 ? 0.0 : sums[j] / contributors[j];
    }
    return new MergedVector(sums, used, new SignVote(signSum, needsMajority));
  }

  /** Per entry, the sum over tasks (in order) of the entries top-K keeps. */
  private static double[] prunedSums(float[][] x, double[] thresholds, int length) {
    double[] sums = new double[length];
    for (int i = 0; i < x.length; i++) {
      float[] xi = x[i];
      double threshold = thresholds[i];
      for (int j = 0; j < length; j++) {
        if (Math.abs(xi[j]) >= threshold) {
          sums[j] += xi[j];
        }
      }
    }
    return sums;
  }

  private static double[] thresholds(
      MergeParameters parameters, MergeStatistics statistics, ModuleVectors vectors) {
    if (parameters.scope() == Scope.GLOBAL) {
      return statistics.thresholds();
    }
    double[] thresholds = new double[vectors.taskCount()];
    if (parameters.prunes()) {
      for (int i = 0; i < thresholds.length; i++) {
        thresholds[i] =
            MagnitudeSelection.thresholdOf(vectors.tasks()[i], parameters.keepFraction());
      }
    }
    return thresholds;
  }
}
