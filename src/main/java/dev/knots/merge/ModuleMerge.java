package dev.knots.merge;

/**
 * The per-module steps of a merge (spec, "Merge methods"): DARE, top-K pruning, sign election and
 * the combine rule, applied to the task vectors of one module. Runs wherever the module lives; the
 * only cross-module inputs are the {@link MergeStatistics}.
 */
public final class ModuleMerge {

  private ModuleMerge() {}

  /**
   * Step 1: returns the vectors DARE turns the representations into (copies), or the
   * representations themselves for methods without DARE.
   *
   * @param representations {@code [task][entry]}, row-major per task; not modified
   */
  public static ModuleVectors prepare(
      MergeMethod method, MergeParameters parameters, String module, double[][] representations) {
    if (!method.dropsAndRescales()) {
      return new ModuleVectors(module, representations);
    }
    double[][] dropped = new double[representations.length][];
    for (int i = 0; i < representations.length; i++) {
      dropped[i] = representations[i].clone();
      Dare.apply(dropped[i], parameters.dareDrop(), parameters.seed(), i, module);
    }
    return new ModuleVectors(module, dropped);
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
    double[][] x = vectors.tasks();
    double[] thresholds = thresholds(parameters, statistics, vectors);
    double[] merged = new double[vectors.length()];
    long[] used = new long[n];
    if (!method.electsSign()) {
      for (int j = 0; j < merged.length; j++) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
          if (Math.abs(x[i][j]) >= thresholds[i]) {
            sum += parameters.scaling(i) * x[i][j];
            used[i]++;
          }
        }
        merged[j] = sum;
      }
      return new MergedVector(merged, used);
    }
    int majority =
        parameters.scope() == Scope.MODULE
            ? Long.signum(signSum(vectors, thresholds))
            : statistics.majoritySign();
    for (int j = 0; j < merged.length; j++) {
      double sigma = Math.signum(prunedSum(x, thresholds, j));
      if (sigma == 0) {
        sigma = majority;
      }
      double sum = 0;
      int contributors = 0;
      for (int i = 0; i < n; i++) {
        // A zero entry has sign 0 and never matches, as in the reference's "!= 0" count.
        if (Math.abs(x[i][j]) >= thresholds[i] && Math.signum(x[i][j]) == sigma && sigma != 0) {
          sum += parameters.scaling(i) * x[i][j];
          contributors++;
          used[i]++;
        }
      }
      merged[j] = contributors == 0 ? 0.0 : sum / contributors;
    }
    return new MergedVector(merged, used);
  }

  /** {@code sum_j sign(sum_i pruned_i[j])}: this module's share of the majority sign. */
  static long signSum(ModuleVectors vectors, double[] thresholds) {
    long sum = 0;
    for (int j = 0; j < vectors.length(); j++) {
      sum += (long) Math.signum(prunedSum(vectors.tasks(), thresholds, j));
    }
    return sum;
  }

  private static double prunedSum(double[][] x, double[] thresholds, int j) {
    double sum = 0;
    for (int i = 0; i < x.length; i++) {
      if (Math.abs(x[i][j]) >= thresholds[i]) {
        sum += x[i][j];
      }
    }
    return sum;
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
