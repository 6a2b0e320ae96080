package dev.knots.cli;

import dev.knots.bench.SyntheticAdapters;
import dev.knots.io.FileStore;
import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.job.LocalMerge;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.MergePlan;
import dev.knots.plan.PathRequest;
import dev.knots.spark.EarlyAlignment;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CompletableFuture;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * The driver's head start on the merge while Spark starts, on a background thread: starting Spark
 * is seconds of mostly one core's class loading, and the other core is put to use. In order, from
 * the moment the command line is parsed: merges of a small synthetic adapter set with the request's
 * method, a few and more until the plan stands, so that the merge's kernels get compiled and the
 * native BLAS loaded; then the plan's layers, aligned in order for the job's align tasks to take
 * ({@link EarlyAlignment}) until the first of them starts. Only worth it when the tasks run in this
 * JVM, under a local master. (Spark's first description of an RDD is paid even sooner: see {@link
 * SparkStart#inBackground}.)
 */
final class HeadStart implements AutoCloseable {
  /** Enough merges for the kernels' loops to reach the optimizing compiler. */
  static final int MAX_RUNS = 12;

  /**
   * Synthetic merges before the real layers are aligned: the merge's and the statistics' kernels
   * get compiled, and aligning real layers compiles the alignment's.
   */
  static final int RUNS_BEFORE_ALIGNING = 3;

  /**
   * Adapters in the synthetic set at most: the kernels are the same for any count, and a joint SVD
   * of many more would only cost time.
   */
  static final int MAX_ADAPTERS = 8;

  /** The name of its thread, which ends once every layer is aligned or it is stopped. */
  static final String THREAD_NAME = "knots-head-start";

  private final MergeRequest request;
  private final FileStore inputs;

  /** Completed by {@link #plan}, or empty by {@link #close} when the plan never came. */
  private final CompletableFuture<Optional<MergePlan>> plan = new CompletableFuture<>();

  private volatile Optional<EarlyAlignment> early = Optional.empty();
  private final Thread thread;
  private Path directory;
  private volatile boolean stopped;
  private volatile int runs;
  private volatile Exception failure;

  private HeadStart(MergeRequest request, FileStore inputs) {
    this.request = request;
    this.inputs = inputs;
    this.thread = new Thread(this::run, THREAD_NAME);
    thread.setDaemon(true);
  }

  /** Whether {@code master} (null: the default, local[*]) runs the tasks in this JVM. */
  static boolean tasksRunHere(String master) {
    return PathRequest.localTaskSlots(master == null ? Main.DEFAULT_MASTER : master).isPresent();
  }

  /**
   * Starts the head start on {@code request}: its synthetic merges need no plan, so they run while
   * the driver reads the inputs' headers and plans, in a temporary directory it deletes when done.
   * The plan's layers, once {@link #plan} hands it over, are read through {@code inputs}. Never
   * fails the merge: what went wrong is in {@link #failure()}, and a layer's task meets it again.
   */
  static HeadStart start(MergeRequest request, FileStore inputs) {
    HeadStart head = new HeadStart(request, inputs);
    head.thread.start();
    return head;
  }

  /**
   * Hands over the plan once it stands, or empty when the driver could not plan before Spark
   * started: then the head start only merges its synthetic set.
   */
  void plan(Optional<MergePlan> stands) {
    early =
        stands.map(
            p -> EarlyAlignment.open(request.method(), request.parameters(), request.concat()));
    plan.complete(stands);
  }

  private void run() {
    LocalFileStore store = new LocalFileStore();
    try {
      routeJavaLogging();
      directory = Files.createTempDirectory("knots-warmup");
      int adapterCount = Math.min(request.taskCount(), MAX_ADAPTERS);
      SyntheticAdapters.Spec spec =
          new SyntheticAdapters.Spec(adapterCount, 1, 512, 128, 8, 16, DType.F32, 1);
      List<String> adapters = SyntheticAdapters.writeSet(store, directory.toString(), spec, false);
      MergeRequest syntheticRequest =
          new MergeRequest(
              adapters,
              request.method(),
              firstScalings(request.parameters(), adapterCount),
              request.concat(),
              directory.resolve("merged").toString(),
              OutputFormat.ADAPTER,
              Optional.empty(),
              List.of(),
              Optional.empty(),
              request.vectors(),
              OptionalInt.empty());
      // Merges on while the plan is not there yet: the later ones take a fraction of the first.
      while (!stopped && runs < MAX_RUNS && !(runs >= RUNS_BEFORE_ALIGNING && planStands())) {
        LocalMerge.run(syntheticRequest, store, true);
        runs++;
      }
      Optional<MergePlan> layers = plan.join();
      if (layers.isPresent()) {
        early.orElseThrow().alignUntilStopped(layers.get(), inputs, earlyBudget());
      }
    } catch (Exception e) {
      failure = e;
    } finally {
      if (directory != null) {
        try {
          store.deleteRecursively(directory.toString());
        } catch (IOException e) {
          if (failure == null) {
            failure = e;
          }
        }
      }
    }
  }

  /**
   * How much of the heap the layers aligned early may hold: half of what Spark's unified memory
   * would keep of the persisted layers in memory (by default 60 percent of the heap above 300 MiB).
   */
  static long earlyBudget() {
    return (Runtime.getRuntime().maxMemory() - (300L << 20)) * 3 / 10;
  }

  /**
   * netlib announces its BLAS through java.util.logging. Spark routes that to its logging when it
   * starts; the head start may load netlib first, so it routes it the same way, and the configured
   * levels apply as they do when a task loads netlib.
   */
  private static void routeJavaLogging() {
    if (!SLF4JBridgeHandler.isInstalled()) {
      SLF4JBridgeHandler.removeHandlersForRootLogger();
      SLF4JBridgeHandler.install();
    }
  }

  /** The request's parameters for its first {@code count} adapters. */
  private static MergeParameters firstScalings(MergeParameters parameters, int count) {
    List<Double> scaling = parameters.scaling();
    return scaling.size() == 1 ? parameters : parameters.withScaling(scaling.subList(0, count));
  }

  /** Merges done so far. */
  int runs() {
    return runs;
  }

  /** Why the head start stopped early, if it did. */
  Optional<Exception> failure() {
    return Optional.ofNullable(failure);
  }

  /** Where the layers aligned so far are, for the job's align tasks; empty without a plan. */
  Optional<EarlyAlignment> early() {
    return early;
  }

  /**
   * Asks the thread to stop after the synthetic merge in progress, without waiting; a plan's layers
   * it goes on aligning until the job's first align task stops it ({@link EarlyAlignment}).
   */
  void stopMerging() {
    stopped = true;
  }

  /** Whether a plan with layers to align has been handed over. */
  private boolean planStands() {
    return plan.getNow(Optional.empty()).isPresent();
  }

  /**
   * Stops, waits for the thread (at most the synthetic merge or the layer in progress), and drops
   * the layers no task took.
   */
  @Override
  public void close() throws InterruptedException {
    stopped = true;
    plan.complete(Optional.empty());
    early.ifPresent(EarlyAlignment::stop);
    thread.join();
    early.ifPresent(EarlyAlignment::close);
  }
}
