package dev.knots.merge;

import java.io.Serializable;
import java.util.Arrays;

/**
 * The merge's one cross-module step: with global scope, each task's top-K threshold over all
 * modules and the majority sign of the elected signs. Both come from mergeable per-module summaries
 * folded by a {@link ModuleScan}, so no engine ever gathers a task's whole vector. With module
 * scope there is nothing global, and each module computes its own in {@link ModuleMerge}.
 *
 * @param thresholds per task, the k-th smallest magnitude over all modules (0 keeps everything)
 * @param majoritySign {@code sign(sum(sigma))} over every module's elected signs
 */
public record MergeStatistics(double[] thresholds, int majoritySign) implements Serializable {

  public MergeStatistics {
    thresholds = thresholds.clone();
  }

  /** Statistics for a merge that needs none (module scope). */
  public static MergeStatistics none(int taskCount) {
    return new MergeStatistics(new double[taskCount], 0);
  }

  /**
   * Computes the global statistics the method needs over the prepared vectors in {@code scan}.
   * Takes one fold per selection round (two on typical data) and one for the majority sign.
   */
  public static MergeStatistics compute(
      MergeMethod method, MergeParameters parameters, int taskCount, ModuleScan scan) {
    if (parameters.scope() == Scope.MODULE) {
      return none(taskCount);
    }
    double[] thresholds =
        parameters.prunes()
            ? thresholds(taskCount, parameters.keepFraction(), scan)
            : new double[taskCount];
    int majority = 0;
    if (method.electsSign()) {
      SignTally tally = scan.aggregate(new SignTally(), new SignFold(thresholds));
      majority = Long.signum(tally.sum);
    }
    return new MergeStatistics(thresholds, majority);
  }

  public double threshold(int task) {
    return thresholds[task];
  }

  private static double[] thresholds(int taskCount, double keepFraction, ModuleScan scan) {
    MagnitudeSelection[] searches = new MagnitudeSelection[taskCount];
    Arrays.fill(searches, MagnitudeSelection.keeping(keepFraction, taskCount));
    while (!Arrays.stream(searches).allMatch(MagnitudeSelection::done)) {
      TaskMagnitudes round =
          scan.aggregate(new TaskMagnitudes(searches), new MagnitudeFold(searches));
      for (int i = 0; i < taskCount; i++) {
        if (!searches[i].done()) {
          searches[i] = searches[i].next(round.summaries[i]);
        }
      }
    }
    return Arrays.stream(searches).mapToDouble(MagnitudeSelection::threshold).toArray();
  }

  /** One selection round's summaries, one per task still searching. */
  static final class TaskMagnitudes implements Mergeable<TaskMagnitudes>, Serializable {
    private static final long serialVersionUID = 1L;
    final MagnitudeSummary[] summaries;

    TaskMagnitudes(MagnitudeSelection[] searches) {
      summaries = new MagnitudeSummary[searches.length];
      for (int i = 0; i < searches.length; i++) {
        summaries[i] = searches[i].done() ? null : searches[i].emptySummary();
      }
    }

    @Override
    public TaskMagnitudes merge(TaskMagnitudes other) {
      for (int i = 0; i < summaries.length; i++) {
        if (summaries[i] != null) {
          summaries[i].merge(other.summaries[i]);
        }
      }
      return this;
    }
  }

  private record MagnitudeFold(MagnitudeSelection[] searches)
      implements ModuleScan.Fold<TaskMagnitudes> {
    @Override
    public TaskMagnitudes apply(TaskMagnitudes acc, ModuleVectors module) {
      for (int i = 0; i < searches.length; i++) {
        if (acc.summaries[i] != null) {
          searches[i].accumulate(module.tasks()[i], acc.summaries[i]);
        }
      }
      return acc;
    }
  }

  /** The sum of elected signs before zero signs are resolved. */
  static final class SignTally implements Mergeable<SignTally>, Serializable {
    private static final long serialVersionUID = 1L;
    long sum;

    @Override
    public SignTally merge(SignTally other) {
      sum += other.sum;
      return this;
    }
  }

  private record SignFold(double[] thresholds) implements ModuleScan.Fold<SignTally> {
    @Override
    public SignTally apply(SignTally acc, ModuleVectors module) {
      acc.sum += ModuleMerge.signSum(module, thresholds);
      return acc;
    }
  }
}
