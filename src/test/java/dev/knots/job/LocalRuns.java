package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.merge.InMemoryModuleScan;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.MergePlan;
import dev.knots.plan.PathOptions;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** The single-process engine as tests drive it: whole merges, or merged modules in memory. */
public final class LocalRuns {

  private LocalRuns() {}

  /** Checks, plans (default budgets), runs and commits {@code request}; returns its report. */
  public static MergeReport run(MergeRequest request, FileStore store, boolean overwrite)
      throws IOException {
    request.checkLocations(store);
    PlannedMerge planned =
        PlannedMerge.prepare(
            request, LoraAdapter.UnsupportedTensors.REFUSE, PathOptions.defaults(), store);
    return new MergeRunner(new LocalEngine(store), overwrite).run(planned);
  }

  /**
   * The merges of {@code points} planned over one opening of their inputs (those of the first), as
   * a sweep plans the points of one combination, so that the runner can share their alignments.
   */
  public static List<PlannedMerge> sharingInputs(
      List<MergeRequest> points, FileStore store, PathOptions paths) throws IOException {
    MergeInputs inputs = points.get(0).openInputs(store, LoraAdapter.UnsupportedTensors.REFUSE);
    List<PlannedMerge> planned = new ArrayList<>();
    for (MergeRequest point : points) {
      planned.add(
          new PlannedMerge(
              point,
              inputs,
              Planner.plan(inputs, point.method(), point.concat(), paths),
              Optional.empty()));
    }
    return planned;
  }

  /**
   * Every module of {@code plan} aligned, merged as {@code request} asks, in plan order. The plan
   * decides which modules are merged, so the inputs are opened leaving out what it left out.
   */
  public static List<MergedModule> merge(MergeRequest request, MergePlan plan, FileStore store)
      throws IOException {
    PlannedMerge planned =
        new PlannedMerge(
            request,
            request.openInputs(store, LoraAdapter.UnsupportedTensors.SKIP_WITH_WARNING),
            plan,
            Optional.empty());
    LocalEngine.InMemoryAlignment alignment = new LocalEngine(store).align(planned);
    MergeStatistics statistics =
        MergeStatistics.compute(
            request.method(),
            request.parameters(),
            request.taskCount(),
            alignment.modules(planned));
    return alignment.merge(planned, statistics);
  }

  /** Statistics and merge over modules already aligned (by either joint-SVD path). */
  public static List<MergedModule> mergeAligned(MergeRequest request, List<AlignedModule> aligned) {
    List<ModuleVectors> prepared = new ArrayList<>();
    for (AlignedModule module : aligned) {
      prepared.add(
          ModuleMerge.prepare(
              request.method(), request.parameters(), module.key(), module.representations()));
    }
    MergeStatistics statistics =
        MergeStatistics.compute(
            request.method(),
            request.parameters(),
            request.taskCount(),
            new InMemoryModuleScan(prepared));
    List<MergedModule> merged = new ArrayList<>();
    for (int m = 0; m < aligned.size(); m++) {
      MergedVector vector =
          ModuleMerge.merge(request.method(), request.parameters(), statistics, prepared.get(m));
      merged.add(MergedModule.of(aligned.get(m), vector));
    }
    return merged;
  }
}
