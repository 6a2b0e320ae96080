package dev.knots.merge;

import java.io.Serializable;
import java.util.Arrays;

/**
 * The merge's cross-module inputs with global scope: each task's top-K threshold over all modules,
 * and the majority sign of the elected signs. Both come from mergeable per-module summaries folded
 * by a {@link ModuleScan}, so no engine ever gathers a task's whole vector, and every engine
 * computes them the same way before any module is merged. With module scope there is nothing
 * global, and each module computes its own in {@link ModuleMerge}.
 *
 * @param thresholds per task, the k-th smallest magnitude over all modules (0 keeps everything)
 * @param majoritySign {@code sign(sum(sigma))} over every module's elected signs (0 for methods
 *     that elect none): the sign an entry whose pruned sum cancels exactly takes
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
   * Computes what the method needs over the prepared vectors in {@code scan}: the top-K thresholds
   * (a few folds, when it prunes), then the majority sign (one fold, when it elects signs).
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
    MergeStatistics pruning = new MergeStatistics(thresholds, 0);
    if (!method.electsSign()) {
      return pruning;
    }
    // The elected signs of a pass with the majority counted as 0 are the signs it votes on.
    Votes votes = scan.aggregate(new Votes(), new VoteFold(method, parameters, pruning));
    return new MergeStatistics(thresholds, Long.signum(votes.vote.signSum()));
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

  /** The sum of the modules' votes, as a fold's accumulator. */
  static final class Votes implements Mergeable<Votes>, Serializable {
    private static final long serialVersionUID = 1L;
    private SignVote vote = SignVote.NONE;

    @Override
    public Votes merge(Votes other) {
      vote = vote.plus(other.vote);
      return this;
    }
  }

  private record VoteFold(MergeMethod method, MergeParameters parameters, MergeStatistics pruning)
      implements ModuleScan.Fold<Votes> {
    @Override
    public Votes apply(Votes acc, ModuleVectors module) {
      acc.vote = acc.vote.plus(ModuleMerge.combine(method, parameters, pruning, module).vote());
      return acc;
    }
  }
}
