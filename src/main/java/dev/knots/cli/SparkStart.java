package dev.knots.cli;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;
import org.slf4j.LoggerFactory;

/**
 * Starting Spark, either when the merge asks for it or, under a local master, in the background
 * from the first moment: starting local Spark is seconds of mostly one core's class loading, in
 * which the driver can parse the command line, read the inputs' headers and plan on the other. A
 * command line or plan that fails still fails at once, without waiting for Spark; the process
 * exits, or {@link #abandonIfUnused} stops the context once it is up.
 */
final class SparkStart {
  private final Supplier<SparkContext> spark;
  private final CompletableFuture<Started> background;
  private Started started;

  private record Started(SparkContext context, double seconds) {}

  private SparkStart(Supplier<SparkContext> spark, CompletableFuture<Started> background) {
    this.spark = spark;
    this.background = background;
  }

  /** Starts Spark when {@link #context} is first asked for. */
  static SparkStart onDemand(Supplier<SparkContext> spark) {
    return new SparkStart(spark, null);
  }

  /** Starts Spark now, on a background thread. */
  static SparkStart inBackground(Supplier<SparkContext> spark) {
    // Logging is configured here, before the thread: while one thread loads log4j's configuration,
    // the others log through its default one, which drops warnings (the first use of netlib says
    // when native BLAS is missing). Spark's start would otherwise load it first thing.
    LoggerFactory.getLogger("knots-merge");
    CompletableFuture<Started> started = new CompletableFuture<>();
    Thread thread =
        new Thread(
            () -> {
              try {
                started.complete(timed(spark));
              } catch (Throwable e) {
                started.completeExceptionally(e);
              }
            },
            "knots-spark-start");
    // Never keeps the JVM alive: a merge that ends before Spark is up has nothing left for it.
    thread.setDaemon(true);
    thread.start();
    return new SparkStart(spark, started);
  }

  /**
   * Whether the command line asks for a merge that needs Spark: the {@code merge} subcommand
   * without {@code --help} or {@code --dry-run}. Cheap, so Spark can start before the parser has
   * loaded; a command line this admits and the parser refuses only costs the start it abandons.
   */
  static boolean needed(String[] args) {
    return args.length > 0
        && (args[0].equals("merge") || args[0].equals("sweep"))
        && !Main.helpRequested(args)
        && !List.of(args).contains("--dry-run");
  }

  /** The Spark context, started or waited for now. */
  SparkContext context() {
    return started().context();
  }

  /**
   * How long starting Spark took, from its own start to the context being ready: waiting for a
   * start in the background is not part of it.
   */
  double seconds() {
    return started().seconds();
  }

  private synchronized Started started() {
    if (started == null) {
      started = background == null ? timed(spark) : joinBackground();
    }
    return started;
  }

  private Started joinBackground() {
    try {
      return background.join();
    } catch (CompletionException e) {
      // The start's own exception, as if the context had been started on this thread.
      if (e.getCause() instanceof RuntimeException cause) {
        throw cause;
      }
      if (e.getCause() instanceof Error cause) {
        throw cause;
      }
      throw e;
    }
  }

  /**
   * For a command that ended without the context: stops a background start once it is up. Does
   * nothing once the context was handed out (its job owns it).
   */
  synchronized void abandonIfUnused() {
    if (background != null && started == null) {
      background.thenAccept(unused -> unused.context().stop());
    }
  }

  /** Stops the context if a command started it: before the JVM's exit, not in its shutdown. */
  synchronized void stopIfStarted() {
    if (started != null) {
      started.context().stop();
    }
  }

  private static Started timed(Supplier<SparkContext> spark) {
    long start = System.nanoTime();
    SparkContext context = spark.get();
    return new Started(context, (System.nanoTime() - start) / 1e9);
  }
}
