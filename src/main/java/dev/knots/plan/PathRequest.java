package dev.knots.plan;

import java.io.Serializable;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The alignment-path options as given ({@code --align-path}, {@code --task-memory}, {@code
 * --driver-memory-budget}), before defaults from the Spark configuration fill the gaps.
 *
 * @param forced the path every KnOTS module must take; empty for {@code auto}
 * @param taskMemory bytes one Spark task may hold for one module's alignment, if given
 * @param driverMemory bytes the driver may hold for one module's distributed SVD, if given
 */
public record PathRequest(
    Optional<AlignPath> forced, OptionalLong taskMemory, OptionalLong driverMemory)
    implements Serializable {

  public static final String TASK_MEMORY = "--task-memory";
  public static final String DRIVER_MEMORY = "--driver-memory-budget";

  /**
   * The share of a JVM's heap a default budget takes: the rest is Spark's own reserve, cached
   * blocks and the other modules of the layer.
   */
  public static final double HEAP_SHARE = 0.6;

  /** Spark's own default for spark.executor.memory and spark.driver.memory. */
  public static final String SPARK_DEFAULT_MEMORY = "1g";

  public static PathRequest auto() {
    return new PathRequest(Optional.empty(), OptionalLong.empty(), OptionalLong.empty());
  }

  /**
   * The budgets to plan with: the options where given, else {@link #HEAP_SHARE} of {@code
   * spark.executor.memory} per executor core (one task per core), and of {@code
   * spark.driver.memory}, each at Spark's default 1g when unset.
   */
  public PathOptions resolve(Map<String, String> sparkConf) {
    Budget task =
        taskMemory.isPresent()
            ? new Budget(
                taskMemory.getAsLong(), TASK_MEMORY + " " + MergePlan.bytes(taskMemory.getAsLong()))
            : fromSpark(
                sparkConf, "spark.executor.memory", coresPerExecutor(sparkConf), TASK_MEMORY);
    Budget driver =
        driverMemory.isPresent()
            ? new Budget(
                driverMemory.getAsLong(),
                DRIVER_MEMORY + " " + MergePlan.bytes(driverMemory.getAsLong()))
            : fromSpark(sparkConf, "spark.driver.memory", 1, DRIVER_MEMORY);
    return new PathOptions(forced, task, driver);
  }

  private static Budget fromSpark(Map<String, String> conf, String key, int share, String option) {
    String memory = conf.getOrDefault(key, SPARK_DEFAULT_MEMORY);
    long bytes = (long) (Budget.parse(memory, 1L << 20) * HEAP_SHARE / share);
    return new Budget(
        bytes,
        String.format(
            Locale.ROOT,
            "default: %.0f%% of %s %s%s; set %s",
            HEAP_SHARE * 100,
            key,
            memory,
            share > 1 ? " over " + share + " cores" : "",
            option));
  }

  private static int coresPerExecutor(Map<String, String> conf) {
    return Math.max(1, Integer.parseInt(conf.getOrDefault("spark.executor.cores", "1").trim()));
  }
}
