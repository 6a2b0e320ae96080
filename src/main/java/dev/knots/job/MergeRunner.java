package dev.knots.job;

import dev.knots.merge.MergeStatistics;
import dev.knots.plan.AlignPath;
import dev.knots.plan.MergePlan;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs planned merges on an engine, each in one sequence: align, statistics, merge and write into a
 * staging directory, then commit (see {@link OutputCommit}). Consecutive merges that can share an
 * alignment ({@link PlannedMerge#sharesAlignmentWith}) align once. The locations of each request
 * are the caller's to check first ({@link MergeRequest#checkLocations}).
 */
public final class MergeRunner {
  private static final Logger LOG = LoggerFactory.getLogger("knots-merge");

  private final MergeEngine engine;
  private final boolean overwrite;
  private final Map<String, Double> startup;
  private final long startNanos;

  /** Whether the next merge is the first: its report counts the startup. */
  private boolean first = true;

  /**
   * @param overwrite replace existing outputs (only once each new one is complete)
   * @param startup seconds spent before the first merge (Spark's start, say), for its report
   * @param startNanos {@link System#nanoTime()} when that time began: the first report's {@code
   *     totalSeconds} counts from there
   */
  public MergeRunner(
      MergeEngine engine, boolean overwrite, Map<String, Double> startup, long startNanos) {
    this.engine = engine;
    this.overwrite = overwrite;
    this.startup = new LinkedHashMap<>(startup);
    this.startNanos = startNanos;
  }

  /** A runner whose reports count from now. */
  public MergeRunner(MergeEngine engine, boolean overwrite) {
    this(engine, overwrite, Map.of(), System.nanoTime());
  }

  /** What the runner tells its caller as each merge ends. */
  public interface Progress {
    /** {@code merge} is done, and committed unless it writes nothing. */
    void done(PlannedMerge merge, MergeReport report);

    /** {@code merge} failed; nothing of it is at its output. */
    void failed(PlannedMerge merge, IOException failure);
  }

  /** Runs one merge and returns the report it committed. */
  public MergeReport run(PlannedMerge merge) throws IOException {
    MergeReport[] report = new MergeReport[1];
    IOException[] failure = new IOException[1];
    run(
        List.of(merge),
        new Progress() {
          @Override
          public void done(PlannedMerge merge, MergeReport done) {
            report[0] = done;
          }

          @Override
          public void failed(PlannedMerge merge, IOException failed) {
            failure[0] = failed;
          }
        });
    if (failure[0] != null) {
      throw failure[0];
    }
    return report[0];
  }

  /**
   * Runs the merges in order, telling {@code progress} as each ends; a merge that fails does not
   * stop the others (a failed alignment fails every merge that shares it).
   */
  public void run(List<PlannedMerge> merges, Progress progress) {
    int from = 0;
    while (from < merges.size()) {
      int to = from + 1;
      while (to < merges.size() && merges.get(from).sharesAlignmentWith(merges.get(to))) {
        to++;
      }
      runSharingAlignment(merges.subList(from, to), progress);
      from = to;
    }
  }

  private void runSharingAlignment(List<PlannedMerge> merges, Progress progress) {
    MergeEngine.Alignment alignment = null;
    Map<PlannedMerge, MergeStatistics> statistics = null;
    // a failure of the shared steps fails every merge that shares them
    IOException sharedFailure = null;
    try {
      for (PlannedMerge merge : merges) {
        if (sharedFailure != null) {
          progress.failed(merge, sharedFailure);
          continue;
        }
        Phases phases = first ? new Phases(startup, startNanos) : new Phases();
        first = false;
        if (alignment == null) {
          describe(merge);
        }
        long bytesRead = engine.bytesRead();
        long bytesWritten = engine.bytesWritten();
        Instant started = Instant.now();
        MergeRequest request = merge.request();
        OutputCommit commit = null;
        try {
          boolean writes = request.format().writes();
          if (writes) {
            commit = OutputCommit.begin(engine.store(), request.output(), overwrite);
          }
          if (statistics == null) {
            try {
              alignment = engine.align(merge);
              phases.lap("alignSeconds");
              statistics = statistics(merges, alignment);
              phases.lap("statisticsSeconds");
            } catch (Exception e) {
              // Spark's task failures arrive as checked SparkExceptions that Java does not declare.
              sharedFailure = MergeFailure.of(request.output(), e);
              throw e;
            }
          }
          List<ModuleOutcome> outcomes =
              alignment.mergeAndWrite(
                  merge, statistics.get(merge), writes ? commit.staging() : null);
          phases.lap("mergeSeconds");
          MergeResult result = new MergeResult(outcomes, changesNotInAdapter(merge));
          MergeReport report =
              new MergeReport(
                  request,
                  overwrite,
                  merge.plan(),
                  result,
                  engine.description(),
                  phases.withTotal(),
                  engine.bytesRead() - bytesRead,
                  engine.bytesWritten() - bytesWritten,
                  peakHeapBytes(),
                  started,
                  Instant.now());
          if (writes) {
            commit.commit(report.toJson(), MergeReport.FILE_NAME);
          }
          progress.done(merge, report);
        } catch (Exception e) {
          // Spark's task failures arrive as checked SparkExceptions that Java does not declare.
          if (commit != null) {
            commit.abort();
          }
          progress.failed(merge, MergeFailure.of(request.output(), e));
        }
      }
    } finally {
      if (alignment != null) {
        alignment.close();
      }
    }
  }

  /**
   * The statistics of every merge of one alignment, in as few folds as they allow: merges that
   * prepare the aligned vectors alike (DARE's drop and seed, or none) share their folds.
   */
  private static Map<PlannedMerge, MergeStatistics> statistics(
      List<PlannedMerge> merges, MergeEngine.Alignment alignment) {
    Map<List<Object>, List<PlannedMerge>> byPreparation = new LinkedHashMap<>();
    for (PlannedMerge merge : merges) {
      MergeRequest request = merge.request();
      List<Object> preparation =
          request.method().dropsAndRescales()
              ? List.of(request.parameters().dareDrop(), request.parameters().seed())
              : List.of();
      byPreparation.computeIfAbsent(preparation, k -> new ArrayList<>()).add(merge);
    }
    Map<PlannedMerge, MergeStatistics> statistics = new IdentityHashMap<>();
    for (List<PlannedMerge> alike : byPreparation.values()) {
      List<MergeStatistics> computed =
          MergeStatistics.computeAll(
              alike.stream()
                  .map(
                      m ->
                          new MergeStatistics.Wanted(
                              m.request().method(), m.request().parameters()))
                  .toList(),
              alike.get(0).plan().taskCount(),
              alignment.modules(alike.get(0)));
      for (int i = 0; i < alike.size(); i++) {
        statistics.put(alike.get(i), computed.get(i));
      }
    }
    return statistics;
  }

  /** Says what the merge will do: its inputs left out, its plan's paths. */
  private static void describe(PlannedMerge merge) {
    merge.inputs().warnings().forEach(w -> LOG.warn("Left out: {}", w));
    MergePlan plan = merge.plan();
    Map<String, Long> paths =
        plan.modules().stream()
            .collect(
                Collectors.groupingBy(m -> m.path().label(), TreeMap::new, Collectors.counting()));
    LOG.info(
        "Planned {} modules in {} tasks for {} {}s ({}); alignment paths {} (--dry-run lists each"
            + " module's path and why).",
        plan.moduleCount(),
        plan.layers().size(),
        plan.taskCount(),
        merge.inputs().kind(),
        merge.request().method().name(),
        paths);
    plan.modules().stream()
        .filter(m -> m.path() == AlignPath.DISTRIBUTED)
        .forEach(m -> LOG.info("{}: distributed path ({})", m.key(), m.reason()));
    plan.modules()
        .forEach(m -> LOG.debug("{}: {} path ({})", m.key(), m.path().label(), m.reason()));
  }

  /** The changes the adapter cannot carry, with one warning when there are any. */
  private List<String> changesNotInAdapter(PlannedMerge merge) throws IOException {
    List<String> notInAdapter =
        MergeOutputs.changesNotInAdapter(merge.request(), merge.inputs(), engine.store());
    if (!notInAdapter.isEmpty()) {
      LOG.warn(
          "The extracted adapter cannot carry the merged changes of {} tensors that are not 2-D"
              + " weights (norms, biases); the merged model (--format model or both) has them."
              + " They are listed in {}.",
          notInAdapter.size(),
          MergeReport.FILE_NAME);
    }
    return notInAdapter;
  }

  /** The driver JVM's peak heap use (in local mode the executors share this JVM). */
  public static long peakHeapBytes() {
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
        peak += pool.getPeakUsage().getUsed();
      }
    }
    return peak;
  }

  /** Seconds per phase of one merge, in the order they ran. */
  private static final class Phases {
    private final Map<String, Double> seconds;
    private final long start;
    private long lapStart = System.nanoTime();

    Phases(Map<String, Double> before, long start) {
      this.seconds = new LinkedHashMap<>(before);
      this.start = start;
    }

    Phases() {
      this(Map.of(), System.nanoTime());
    }

    void lap(String phase) {
      long now = System.nanoTime();
      seconds.put(phase, (now - lapStart) / 1e9);
      lapStart = now;
    }

    Map<String, Double> withTotal() {
      Map<String, Double> all = new LinkedHashMap<>(seconds);
      all.put("totalSeconds", (System.nanoTime() - start) / 1e9);
      return all;
    }
  }
}
