package dev.knots.cli;

import dev.knots.bench.SyntheticAdapters;
import dev.knots.io.LocalFileStore;
import dev.knots.io.safetensors.DType;
import dev.knots.job.LocalMerge;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.PathRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import org.slf4j.bridge.SLF4JBridgeHandler;

/**
 * Merges a small synthetic adapter set with the request's method, again and again on a background
 * thread, while Spark starts. Starting Spark is seconds of mostly one core's class loading; in that
 * time the merge's kernels get compiled and the native BLAS loaded, so the first layer tasks do not
 * run them cold. Only worth it when the tasks run in this JVM, under a local master.
 */
final class KernelWarmup implements AutoCloseable {
  /** Enough merges for the kernels' loops to reach the optimizing compiler. */
  static final int MAX_RUNS = 12;

  /**
   * Adapters in the synthetic set at most: the kernels are the same for any count, and a joint SVD
   * of many more would only cost time.
   */
  static final int MAX_ADAPTERS = 8;

  private final MergeRequest request;
  private final Thread thread;
  private Path directory;
  private volatile boolean stopped;
  private volatile int runs;
  private volatile Exception failure;

  private KernelWarmup(MergeRequest request) {
    this.request = request;
    this.thread = new Thread(this::run, "knots-kernel-warmup");
    thread.setDaemon(true);
  }

  /** Whether {@code master} (null: the default, local[*]) runs the tasks in this JVM. */
  static boolean tasksRunHere(String master) {
    return PathRequest.localTaskSlots(master == null ? Main.DEFAULT_MASTER : master).isPresent();
  }

  /**
   * Starts warming up for {@code request}, in a temporary directory it deletes when done. Never
   * fails the merge: what went wrong is in {@link #failure()}.
   */
  static KernelWarmup start(MergeRequest request) {
    KernelWarmup warmup = new KernelWarmup(request);
    warmup.thread.start();
    return warmup;
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
      MergeRequest synthetic =
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
      while (!stopped && runs < MAX_RUNS) {
        LocalMerge.run(synthetic, store, true);
        runs++;
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
   * netlib announces its BLAS through java.util.logging. Spark routes that to its logging when it
   * starts; the warm-up may load netlib first, so it routes it the same way, and the configured
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

  /** Why the warm-up stopped early, if it did. */
  Optional<Exception> failure() {
    return Optional.ofNullable(failure);
  }

  /** Stops after the merge in progress and waits for it, so no work competes with the job's. */
  @Override
  public void close() throws InterruptedException {
    stopped = true;
    thread.join();
  }
}
