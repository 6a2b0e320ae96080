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
import dev.knots.plan.AdapterSet;
import dev.knots.plan.ModuleSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The whole merge in this JVM: align -> statistics -> merge, module by module, with every module's
 * representations held in memory. The reference the Spark job is tested against, and the right tool
 * for small adapter sets.
 */
public final class LocalMerge {

  private LocalMerge() {}

  /** Merges the adapters of {@code request} and returns each module's factors and outcome. */
  public static List<MergedModule> merge(MergeRequest request, AdapterSet adapters, FileStore store)
      throws IOException {
    List<AlignedModule> aligned = new ArrayList<>();
    for (ModuleSpec spec : adapters.modules()) {
      aligned.add(ModuleAligner.align(spec, request.method().aligned(), request.concat(), store));
    }
    return mergeAligned(request, aligned);
  }

  /** Statistics and merge over modules already aligned (by either joint-SVD path). */
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
    List<MergedModule> merged = new ArrayList<>();
    for (int m = 0; m < aligned.size(); m++) {
      MergedVector vector = ModuleMerge.merge(method, parameters, statistics, prepared.get(m));
      merged.add(MergedModule.of(aligned.get(m), vector.values(), vector.usedPerTask()));
    }
    return merged;
  }

  /** Opens the adapters, merges, writes the outputs the request asks for, and reports. */
  public static MergeResult run(MergeRequest request, FileStore store) throws IOException {
    AdapterSet adapters =
        AdapterSet.open(store, request.adapters(), LoraAdapter.UnsupportedTensors.REFUSE);
    List<MergedModule> merged = merge(request, adapters, store);
    MergeOutputs.write(request, adapters, merged, store);
    return new MergeResult(merged.stream().map(ModuleOutcome::of).toList());
  }
}
