package dev.knots.job;

import dev.knots.io.CountingFileStore;
import dev.knots.io.FileStore;
import dev.knots.io.IoCounters;
import dev.knots.merge.InMemoryModuleScan;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.plan.ModulePlan;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The merge in this JVM, module by module, with every module's representations held in memory: the
 * reference the Spark engine is tested against, and the right tool for small adapter sets. Modules
 * planned DISTRIBUTED are aligned as DENSE here (there is no cluster to distribute to; see {@link
 * ModuleAligner#align}).
 */
public final class LocalEngine implements MergeEngine {
  private final IoCounters.Totals counters = new IoCounters.Totals();
  private final FileStore store;

  public LocalEngine(FileStore store) {
    this.store = new CountingFileStore(store, counters);
  }

  @Override
  public FileStore store() {
    return store;
  }

  @Override
  public InMemoryAlignment align(PlannedMerge merge) throws IOException {
    List<AlignedModule> modules = new ArrayList<>();
    for (ModulePlan module : merge.plan().modules()) {
      modules.add(ModuleAligner.align(module, merge.request().concat(), store));
    }
    return new InMemoryAlignment(modules);
  }

  @Override
  public Map<String, String> description() {
    return Map.of("engine", "local");
  }

  @Override
  public long bytesRead() {
    return counters.bytesRead();
  }

  @Override
  public long bytesWritten() {
    return counters.bytesWritten();
  }

  /** The aligned modules of one plan, in plan order. */
  public final class InMemoryAlignment implements Alignment {
    private final List<AlignedModule> modules;

    private InMemoryAlignment(List<AlignedModule> modules) {
      this.modules = modules;
    }

    @Override
    public InMemoryModuleScan modules(PlannedMerge merge) {
      return new InMemoryModuleScan(modules.stream().map(m -> prepared(merge, m)).toList());
    }

    /** Every module merged with {@code statistics}, in plan order. */
    public List<MergedModule> merge(PlannedMerge merge, MergeStatistics statistics) {
      MergeRequest request = merge.request();
      List<MergedModule> merged = new ArrayList<>();
      for (AlignedModule module : modules) {
        merged.add(
            MergedModule.of(
                module, module.merge(request.method(), request.parameters(), statistics)));
      }
      return merged;
    }

    @Override
    public List<ModuleOutcome> mergeAndWrite(
        PlannedMerge merge, MergeStatistics statistics, String root) throws IOException {
      MergeRequest request = merge.request();
      if (MergeOutputs.outcomesOnly(request)) {
        return modules.stream()
            .map(
                m ->
                    MergedModule.outcome(
                        m, m.merge(request.method(), request.parameters(), statistics)))
            .toList();
      }
      List<MergedModule> merged = merge(merge, statistics);
      AdapterModules adapter = AdapterModules.of(merge.request(), merged);
      MergeOutputs.write(merge, merged, adapter.written(), store, root);
      return adapter.outcomes();
    }

    private static ModuleVectors prepared(PlannedMerge merge, AlignedModule module) {
      MergeRequest request = merge.request();
      return ModuleMerge.prepare(
          request.method(), request.parameters(), module.key(), module.representations());
    }

    @Override
    public void close() {
      // nothing but heap: the modules go with this object
    }
  }
}
