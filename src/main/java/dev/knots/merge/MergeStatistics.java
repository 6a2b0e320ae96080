package dev.knots.merge;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
    return computeAll(List.of(new Wanted(method, parameters)), taskCount, scan).get(0);
  }

  /** A merge whose statistics are wanted: its method and parameters. */
  public record Wanted(MergeMethod method, MergeParameters parameters) {}

  /**
   * The statistics of several merges over the same prepared vectors in {@code scan}, in the folds
   * one of them needs: the top-K thresholds of every fraction come from the same histograms, and
   * the majority signs of every set of thresholds from one fold. Each merge's statistics are those
   * {@link #compute} gives it alone.
   */
  public static List<MergeStatistics> computeAll(
      List<Wanted> merges, int taskCount, ModuleScan scan) {
    // per merge, per task, the search for its threshold, or null when it needs none
    MagnitudeSelection[][] searches = new MagnitudeSelection[merges.size()][];
    for (int m = 0; m < merges.size(); m++) {
      MergeParameters parameters = merges.get(m).parameters();
      if (parameters.scope() == Scope.GLOBAL && parameters.prunes()) {
        searches[m] = new MagnitudeSelection[taskCount];
        Arrays.fill(searches[m], MagnitudeSelection.keeping(parameters.keepFraction()));
      }
    }
    selectThresholds(searches, taskCount, scan);
    List<MergeStatistics> pruning = new ArrayList<>();
    for (int m = 0; m < merges.size(); m++) {
      double[] thresholds = new double[taskCount];
      if (searches[m] != null) {
        for (int i = 0; i < taskCount; i++) {
          thresholds[i] = searches[m][i].threshold();
        }
      }
      pruning.add(new MergeStatistics(thresholds, 0));
    }
    // The elected signs depend on the thresholds alone (election uses the values before lambda).
    Map<List<Double>, Integer> voteOf = new LinkedHashMap<>();
    List<VoteFold> votes = new ArrayList<>();
    for (int m = 0; m < merges.size(); m++) {
      Wanted merge = merges.get(m);
      if (merge.parameters().scope() == Scope.GLOBAL && merge.method().electsSign()) {
        List<Double> key = Arrays.stream(pruning.get(m).thresholds).boxed().toList();
        if (!voteOf.containsKey(key)) {
          voteOf.put(key, votes.size());
          votes.add(new VoteFold(merge.parameters(), pruning.get(m)));
        }
      }
    }
    Votes counted =
        votes.isEmpty()
            ? new Votes(0)
            : scan.aggregate(new Votes(votes.size()), new AllVotes(votes));
    List<MergeStatistics> statistics = new ArrayList<>();
    for (int m = 0; m < merges.size(); m++) {
      Wanted merge = merges.get(m);
      if (merge.parameters().scope() == Scope.MODULE) {
        statistics.add(none(taskCount));
        continue;
      }
      double[] thresholds = pruning.get(m).thresholds;
      Integer vote = voteOf.get(Arrays.stream(thresholds).boxed().toList());
      int majority = merge.method().electsSign() ? Long.signum(counted.votes[vote].signSum()) : 0;
      statistics.add(new MergeStatistics(thresholds, majority));
    }
    return statistics;
  }

  public double threshold(int task) {
    return thresholds[task];
  }

  /**
   * Runs every search of {@code searches} (per merge, per task; a null row needs none) to its end,
   * one fold per round for all of them: searches in the same state share their histogram.
   */
  private static void selectThresholds(
      MagnitudeSelection[][] searches, int taskCount, ModuleScan scan) {
    while (true) {
      // per task, the distinct histograms this round needs
      List<Map<Object, Integer>> slots = new ArrayList<>();
      List<MagnitudeSelection> counting = new ArrayList<>();
      List<Integer> taskOf = new ArrayList<>();
      for (int i = 0; i < taskCount; i++) {
        slots.add(new LinkedHashMap<>());
      }
      for (MagnitudeSelection[] merge : searches) {
        for (int i = 0; merge != null && i < taskCount; i++) {
          if (!merge[i].done() && !slots.get(i).containsKey(merge[i].roundKey())) {
            slots.get(i).put(merge[i].roundKey(), counting.size());
            counting.add(merge[i]);
            taskOf.add(i);
          }
        }
      }
      if (counting.isEmpty()) {
        return;
      }
      TaskMagnitudes round =
          scan.aggregate(
              new TaskMagnitudes(counting),
              new MagnitudeFold(counting.toArray(new MagnitudeSelection[0]), toInts(taskOf)));
      for (MagnitudeSelection[] merge : searches) {
        for (int i = 0; merge != null && i < taskCount; i++) {
          if (!merge[i].done()) {
            merge[i] = merge[i].next(round.summaries[slots.get(i).get(merge[i].roundKey())]);
          }
        }
      }
    }
  }

  private static int[] toInts(List<Integer> values) {
    return values.stream().mapToInt(Integer::intValue).toArray();
  }

  /** One selection round's histograms, one per distinct search. */
  static final class TaskMagnitudes implements Mergeable<TaskMagnitudes>, Serializable {
    private static final long serialVersionUID = 2L;
    final MagnitudeSummary[] summaries;

    TaskMagnitudes(List<MagnitudeSelection> searches) {
      summaries = new MagnitudeSummary[searches.size()];
      for (int s = 0; s < summaries.length; s++) {
        summaries[s] = searches.get(s).emptySummary();
      }
    }

    @Override
    public TaskMagnitudes merge(TaskMagnitudes other) {
      for (int s = 0; s < summaries.length; s++) {
        summaries[s].merge(other.summaries[s]);
      }
      return this;
    }
  }

  /** Counts each search's magnitudes: search {@code s} over task {@code taskOf[s]}'s vector. */
  private record MagnitudeFold(MagnitudeSelection[] searches, int[] taskOf)
      implements ModuleScan.Fold<TaskMagnitudes> {
    @Override
    public TaskMagnitudes apply(TaskMagnitudes acc, ModuleVectors module) {
      for (int s = 0; s < searches.length; s++) {
        searches[s].accumulate(module.tasks()[taskOf[s]], acc.summaries[s]);
      }
      return acc;
    }
  }

  /** Per set of thresholds, the sum of the modules' votes, as a fold's accumulator. */
  static final class Votes implements Mergeable<Votes>, Serializable {
    private static final long serialVersionUID = 2L;
    private final SignVote[] votes;

    Votes(int count) {
      votes = new SignVote[count];
      Arrays.fill(votes, SignVote.NONE);
    }

    @Override
    public Votes merge(Votes other) {
      for (int v = 0; v < votes.length; v++) {
        votes[v] = votes[v].plus(other.votes[v]);
      }
      return this;
    }
  }

  /** One set of thresholds to vote with. */
  private record VoteFold(MergeParameters parameters, MergeStatistics pruning)
      implements Serializable {}

  private record AllVotes(List<VoteFold> folds) implements ModuleScan.Fold<Votes> {
    @Override
    public Votes apply(Votes acc, ModuleVectors module) {
      for (int v = 0; v < folds.size(); v++) {
        VoteFold fold = folds.get(v);
        acc.votes[v] =
            acc.votes[v].plus(ModuleMerge.vote(fold.parameters(), fold.pruning(), module));
      }
      return acc;
    }
  }
}
