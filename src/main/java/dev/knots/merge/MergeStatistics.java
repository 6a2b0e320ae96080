package dev.knots.merge;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Optional;

/**
 * The merge's cross-module inputs with global scope: each task's top-K threshold over all modules,
 * and the majority sign of the elected signs. Thresholds come from mergeable per-module summaries
 * folded by a {@link ModuleScan}, so no engine ever gathers a task's whole vector. The majority
 * sign is voted on during the merge pass itself (see {@link SignVote}): it only matters where an
 * entry's pruned sum cancels exactly, so the pass runs with it pending, and the modules where such
 * an entry occurred are merged again once it is known ({@link #afterMergePass}), or for each
 * possible majority ({@link #withMajority}). With module scope there is nothing global, and each
 * module computes its own in {@link ModuleMerge}.
 *
 * @param thresholds per task, the k-th smallest magnitude over all modules (0 keeps everything)
 * @param majoritySign {@code sign(sum(sigma))} over every module's elected signs; 0 while pending
 * @param majorityPending the majority sign is still to be voted on by a merge pass
 */
public record MergeStatistics(double[] thresholds, int majoritySign, boolean majorityPending)
    implements Serializable {

  public MergeStatistics {
    thresholds = thresholds.clone();
  }

  /** Statistics for a merge that needs none (module scope). */
  public static MergeStatistics none(int taskCount) {
    return new MergeStatistics(new double[taskCount], 0, false);
  }

  /**
   * Computes the top-K thresholds the method needs over the prepared vectors in {@code scan}: two
   * folds when it prunes, none otherwise. The majority sign is left pending for methods that elect
   * signs.
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
    return new MergeStatistics(thresholds, 0, method.electsSign());
  }

  /**
   * After a merge pass run with these statistics, given the sum of its modules' votes: the
   * statistics to run the pass again with, or empty when its result stands (the majority was known,
   * or no entry needed it, or it is 0, which is what the pass used).
   */
  public Optional<MergeStatistics> afterMergePass(SignVote vote) {
    int majority = (int) Long.signum(vote.signSum());
    if (!majorityPending || !vote.needsMajority() || majority == 0) {
      return Optional.empty();
    }
    return Optional.of(withMajority(majority));
  }

  /**
   * These thresholds with the majority sign known to be {@code majority} (-1, 0 or +1), for an
   * engine that merges a module for each possible majority before the vote is complete.
   */
  public MergeStatistics withMajority(int majority) {
    return new MergeStatistics(thresholds, majority, false);
  }

  public double threshold(int task) {
    return thresholds[task];
  }

  private static double[] thresholds(int taskCount, double keepFraction, ModuleScan scan) {
    MagnitudeSelection[] searches = new MagnitudeSelection[taskCount];
    Arrays.fill(searches, MagnitudeSelection.keeping(keepFraction));
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
}
