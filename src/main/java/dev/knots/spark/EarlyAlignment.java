package dev.knots.spark;

import dev.knots.io.CountingFileStore;
import dev.knots.io.FileStore;
import dev.knots.io.IoCounters;
import dev.knots.job.AlignedModule;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.AlignPath;
import dev.knots.plan.LayerPlan;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.stream.Collectors;

/**
 * Layers aligned in the driver's JVM while Spark starts, for the align tasks of a job whose tasks
 * run in that JVM (a local master). Starting Spark leaves most of a core idle for seconds; the
 * driver spends it on the plan's first layers, until the first align task asks for its layer, and
 * each align task takes its layer from here when it is there (waiting for one still in progress)
 * and aligns it itself otherwise. An entry is the align task's own result, computed by the same
 * code from the same plan, so the job's output does not depend on which layers were aligned early.
 * Executors in other JVMs never see an entry.
 *
 * <p>Entries are registered under a token that the job ships with its align tasks, so jobs in one
 * JVM never mix; {@link #close} drops what no task took.
 */
public final class EarlyAlignment implements AutoCloseable {
  private static final Map<String, EarlyAlignment> OPEN = new ConcurrentHashMap<>();

  private final String token = UUID.randomUUID().toString();
  private final MergeMethod method;
  private final MergeParameters parameters;
  private final Concat concat;
  private final Map<Integer, CompletableFuture<Entry>> layers = new ConcurrentHashMap<>();
  private final LongAdder bytesTaken = new LongAdder();
  private final LongAdder layersTaken = new LongAdder();
  private volatile boolean stopped;

  /** One aligned layer, the plan it was aligned for, and the bytes its reads fetched. */
  private record Entry(List<String> signature, AlignedLayer layer, long bytesRead) {}

  private EarlyAlignment(MergeMethod method, MergeParameters parameters, Concat concat) {
    this.method = method;
    this.parameters = parameters;
    this.concat = concat;
  }

  /** Opens a registry for the align tasks of a job that merges with these settings. */
  public static EarlyAlignment open(MergeMethod method, MergeParameters parameters, Concat concat) {
    EarlyAlignment early = new EarlyAlignment(method, parameters, concat);
    OPEN.put(early.token, early);
    return early;
  }

  /**
   * Aligns {@code plan}'s layers in order on the calling thread, reading through {@code store},
   * until every layer is done, {@link #stop} is called (the layer in progress is finished, since a
   * task may be waiting for it), or the layers aligned hold {@code budgetBytes}: until tasks take
   * them they are held here, where Spark cannot spill them to disk. Layers with a module planned
   * DISTRIBUTED are left to the job. Stops at the first failure, which the layer's own task then
   * meets again and reports.
   */
  public void alignUntilStopped(MergePlan plan, FileStore store, long budgetBytes) {
    long held = 0;
    for (LayerPlan layer : plan.layers()) {
      if (stopped || held >= budgetBytes) {
        return;
      }
      if (layer.modules().stream().anyMatch(m -> m.path() == AlignPath.DISTRIBUTED)) {
        continue;
      }
      CompletableFuture<Entry> entry = new CompletableFuture<>();
      if (layers.putIfAbsent(layer.index(), entry) != null) {
        continue;
      }
      try {
        IoCounters.Totals read = new IoCounters.Totals();
        AlignedLayer aligned =
            AlignLayer.alignHere(
                layer, method, parameters, concat, new CountingFileStore(store, read), Map.of());
        held += aligned.modules().stream().mapToLong(AlignedModule::heapBytes).sum();
        entry.complete(new Entry(signature(layer), aligned, read.bytesRead()));
      } catch (Exception | OutOfMemoryError e) {
        entry.completeExceptionally(e);
        return;
      }
    }
  }

  /** Whether the layers here are what a job with these settings aligns. */
  boolean alignsFor(MergeMethod jobMethod, MergeParameters jobParameters, Concat jobConcat) {
    return method.equals(jobMethod) && parameters.equals(jobParameters) && concat == jobConcat;
  }

  /** Asks {@link #alignUntilStopped} to stop after the layer in progress. */
  public void stop() {
    stopped = true;
  }

  /** Layers aligned so far, taken or not. */
  public int layersAligned() {
    return (int)
        layers.values().stream().filter(f -> f.isDone() && !f.isCompletedExceptionally()).count();
  }

  /** Layers the tasks took. */
  int layersTaken() {
    return layersTaken.intValue();
  }

  /** The token the job's align tasks look their layers up by. */
  String token() {
    return token;
  }

  /** Bytes read for the layers tasks took, which the tasks' own counters never saw. */
  long bytesTaken() {
    return bytesTaken.sum();
  }

  /**
   * The layer aligned early under {@code token} for exactly {@code layer}'s plan, removed from the
   * registry, waiting for it if it is in progress; empty if there is none, it failed, or it was
   * aligned for another plan of that layer.
   */
  static Optional<AlignedLayer> take(String token, LayerPlan layer) {
    EarlyAlignment early = OPEN.get(token);
    if (early == null) {
      return Optional.empty();
    }
    // The tasks have started and use the cores: the layer in progress is the last one.
    early.stop();
    CompletableFuture<Entry> future = early.layers.remove(layer.index());
    if (future == null) {
      return Optional.empty();
    }
    Entry entry;
    try {
      entry = future.join();
    } catch (CompletionException e) {
      return Optional.empty();
    }
    if (!entry.signature().equals(signature(layer))) {
      return Optional.empty();
    }
    early.bytesTaken.add(entry.bytesRead());
    early.layersTaken.increment();
    return Optional.of(entry.layer());
  }

  /**
   * What an entry must have been aligned for: the layer's modules, their paths and where each
   * task's update comes from. The method and its parameters are the registry's own.
   */
  private static List<String> signature(LayerPlan layer) {
    return layer.modules().stream().map(EarlyAlignment::signature).toList();
  }

  private static String signature(ModulePlan module) {
    return module.key()
        + " "
        + module.path()
        + module.spec().sources().stream()
            .map(s -> s == null ? " -" : " " + s.origin() + ":" + s.byteLength())
            .collect(Collectors.joining());
  }

  /** Stops aligning, unregisters, and drops every layer no task took. */
  @Override
  public void close() {
    stop();
    OPEN.remove(token);
    layers.clear();
  }
}
