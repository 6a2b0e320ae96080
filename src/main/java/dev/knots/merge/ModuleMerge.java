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
    float[] thresholds = thresholds(parameters, statistics, vectors);
    double[] lambda = new double[n];
    for (int i = 0; i < n; i++) {
      lambda[i] = parameters.scaling(i);
    }
    int length = vectors.length();
    double[] merged = new double[length];
    long[] used = new long[n];
    // Entry-outer loops: one pass over the tasks' vectors with no per-entry temporaries; every
    // per-entry sum runs over the tasks in order.
    if (!method.electsSign()) {
      for (int j = 0; j < length; j++) {
        double sum = 0;
        for (int i = 0; i < n; i++) {
          float v = x[i][j];
          if (Math.abs(v) >= thresholds[i]) {
            sum += lambda[i] * v;
            used[i]++;
          }
        }
        merged[j] = sum;
      }
      return new MergedVector(merged, used, SignVote.NONE);
    }
    // A pending global majority counts as 0 here; the vote says whether that mattered.
    int majority =
        parameters.scope() == Scope.MODULE
            ? Long.signum(signSum(x, thresholds, length))
            : statistics.majoritySign();
    long signSum = 0;
    boolean needsMajority = false;
    for (int j = 0; j < length; j++) {
      // One pass over the tasks gathers everything either elected sign needs: the pruned sum, and
      // per sign the scaled sum, count and set of the kept non-zero entries, all in task order.
      double pruned = 0;
      double positive = 0;
      double negative = 0;
      int positiveCount = 0;
      int negativeCount = 0;
      long positiveTasks = 0;
      long negativeTasks = 0;
      for (int i = 0; i < n; i++) {
        float v = x[i][j];
        if (Math.abs(v) >= thresholds[i]) {
          pruned += v;
          // A zero entry has sign 0 and never contributes, as in the reference's "!= 0" count.
          if (v > 0) {
            positive += lambda[i] * v;
            positiveCount++;
            positiveTasks |= 1L << i;
          } else if (v < 0) {
            negative += lambda[i] * v;
            negativeCount++;
            negativeTasks |= 1L << i;
          }
        }
      }
      double sign = Math.signum(pruned);
      signSum += (long) sign;
      double sigma = sign == 0 ? majority : sign;
      needsMajority |= sigma == 0 && positiveCount + negativeCount > 0;
      int contributors = sigma > 0 ? positiveCount : sigma < 0 ? negativeCount : 0;
      if (contributors == 0) {
        continue;
      }
      merged[j] = (sigma > 0 ? positive : negative) / contributors;
      if (n <= Long.SIZE) {
        for (long tasks = sigma > 0 ? positiveTasks : negativeTasks;
            tasks != 0;
            tasks &= tasks - 1) {
          used[Long.numberOfTrailingZeros(tasks)]++;
        }
      } else {
        for (int i = 0; i < n; i++) {
          float v = x[i][j];
          if (Math.abs(v) >= thresholds[i] && Math.signum(v) == sigma) {
            used[i]++;
          }
        }
      }
    }
    return new MergedVector(merged, used, new SignVote(signSum, needsMajority));
  }

  /** {@code sum_j sign(sum_i pruned_i[j])}: the module's own majority vote, for module scope. */
  private static long signSum(float[][] x, float[] thresholds, int length) {
    long sum = 0;
    for (int j = 0; j < length; j++) {
      sum += (long) Math.signum(prunedSum(x, thresholds, j));
    }
    return sum;
  }

  /** The sum over tasks (in order) of entry {@code j} where top-K keeps it. */
  private static double prunedSum(float[][] x, float[] thresholds, int j) {
    double sum = 0;
    for (int i = 0; i < x.length; i++) {
      float v = x[i][j];
      if (Math.abs(v) >= thresholds[i]) {
        sum += v;
      }
    }
    return sum;
  }

  /**
   * Per task, the threshold as a float: every threshold is a float32 magnitude (or 0), so comparing
   * float entries with it in float is exact and spares a widening per entry.
   */
  private static float[] thresholds(
      MergeParameters parameters, MergeStatistics statistics, ModuleVectors vectors) {
    float[] thresholds = new float[vectors.taskCount()];
    for (int i = 0; i < thresholds.length; i++) {
      double threshold =
          parameters.scope() == Scope.GLOBAL
              ? statistics.threshold(i)
              : parameters.prunes()
                  ? MagnitudeSelection.thresholdOf(vectors.tasks()[i], parameters.keepFraction())
                  : 0;
      thresholds[i] = (float) threshold;
    }
    return thresholds;
  }
}
