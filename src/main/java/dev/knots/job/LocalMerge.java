package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.merge.InMemoryModuleScan;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.merge.SignVote;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The whole merge in this JVM: align -> statistics -> merge, module by module, with every module's
 * representations held in memory. The reference the Spark job is tested against, and the right tool
 * for small adapter sets. Modules planned DISTRIBUTED are aligned as DENSE here (there is no
 * cluster to distribute to; see {@link ModuleAligner#align}).
 */
public final class LocalMerge {

  private LocalMerge() {}

  /** Merges the adapters of {@code request} and returns each module's factors and outcome. */
  public static List<MergedModule> merge(MergeRequest request, MergePlan plan, FileStore store)
      throws IOException {
    List<AlignedModule> aligned = new ArrayList<>();
    for (ModulePlan module : plan.modules()) {
      aligned.add(ModuleAligner.align(module, request.concat(), store));
    }
    return mergeAligned(request, aligned);
  }

  /**
   * Statistics and merge over modules already aligned (by either joint-SVD path). DARE methods drop
   * entries of the modules' representations in place.
   */
  public static List<MergedModule> mergeAligned(MergeRequest request, List<AlignedModule> aligned) {
    MergeMethod method = request.method();
    MergeParameters parameters = request.parameters();
    List<ModuleVectors> prepared = new ArrayList<>();
    for (AlignedModule module : aligned) {
      prepared.add(ModuleMerge.prepare(method, parameters, module.key(), module.representations()));
    }
    MergeStatistics statistics =
        MergeStatistics.compute(
            method, parameters, request.taskCount(), new InMemoryModuleScan(prepared));
    List<MergedVector> vectors = new ArrayList<>();
    for (ModuleVectors module : prepared) {
      vectors.add(ModuleMerge.merge(method, parameters, statistics, module));
    }
    SignVote vote = vectors.stream().map(MergedVector::vote).reduce(SignVote.NONE, SignVote::plus);
    Optional<MergeStatistics> again = statistics.afterMergePass(vote);
    if (again.isPresent()) {
      // Only modules with an entry the majority decides can change; the others stand.
      for (int m = 0; m < vectors.size(); m++) {
        if (vectors.get(m).vote().needsMajority()) {
          vectors.set(m, ModuleMerge.merge(method, parameters, again.get(), prepared.get(m)));
        }
      }
    }
    List<MergedModule> merged = new ArrayList<>();
    for (int m = 0; m < aligned.size(); m++) {
      MergedVector vector = vectors.get(m);
      merged.add(MergedModule.of(aligned.get(m), vector.values(), vector.usedPerTask()));
    }
    return merged;
  }

  /**
   * Opens the inputs (adapters or checkpoints), merges, writes the outputs the request asks for
   * under a staging directory and commits them (see {@link OutputCommit}); returns the report it
   * wrote.
   */
  public static MergeReport run(MergeRequest request, FileStore store, boolean overwrite)
      throws IOException {
    Instant started = Instant.now();
    long t0 = System.nanoTime();
    request.checkLocations(store);
    OutputCommit commit = OutputCommit.begin(store, request.output(), overwrite);
    try {
      MergeInputs inputs = request.openInputs(store, LoraAdapter.UnsupportedTensors.REFUSE);
      MergePlan plan = Planner.plan(inputs, request.method(), request.concat());
      List<MergedModule> merged = merge(request, plan, store);
      AdapterModules adapter = AdapterModules.of(request, merged);
      MergeOutputs.write(request, inputs, merged, adapter.written(), store, commit.staging());
      Map<String, Double> timings = Map.of("totalSeconds", (System.nanoTime() - t0) / 1e9);
      MergeReport report =
          new MergeReport(
              request,
              overwrite,
              plan,
              new MergeResult(
                  adapter.outcomes(), MergeOutputs.changesNotInAdapter(request, inputs, store)),
              Map.of("engine", "local"),
              timings,
              0,
              0,
              0,
              started,
              Instant.now());
      commit.commit(report.toJson(), MergeReport.FILE_NAME);
      return report;
    } catch (Exception e) {
      // Spark's task failures arrive as checked SparkExceptions that Java does not declare.
      commit.abort();
      throw e;
    }
  }
}
