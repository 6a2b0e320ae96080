package dev.knots.plan;

import dev.knots.merge.InvalidOptionException;
import java.io.Serializable;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

  /**
   * {@code local}, {@code local[N]}, {@code local[*]}, with an optional {@code ,maxFailures}; an N
   * too large for an int is Spark's to refuse.
   */
  private static final Pattern LOCAL_MASTER =
      Pattern.compile("local(?:\\[(\\*|\\d{1,9})(?:,\\d+)?])?");

  /**
   * The request as options give it: {@code alignPath} auto, factor, dense or distributed (null:
   * auto), the memory budgets as sizes ({@code 2g}; null: from Spark's configuration).
   *
   * @throws dev.knots.merge.InvalidOptionException naming the option of a value it cannot use
   */
  public static PathRequest of(String alignPath, String taskMemory, String driverMemory) {
    return new PathRequest(
        AlignPath.parseOption(alignPath == null ? "auto" : alignPath),
        size(TASK_MEMORY, taskMemory),
        size(DRIVER_MEMORY, driverMemory));
  }

  private static OptionalLong size(String option, String value) {
    if (value == null) {
      return OptionalLong.empty();
    }
    try {
      long bytes = Budget.parse(value, 1);
      if (bytes <= 0) {
        throw new IllegalArgumentException("it must be more than 0 bytes");
      }
      return OptionalLong.of(bytes);
    } catch (IllegalArgumentException e) {
      throw new InvalidOptionException(option, value, e.getMessage());
    }
  }

  public static PathRequest auto() {
    return new PathRequest(Optional.empty(), OptionalLong.empty(), OptionalLong.empty());
  }

  /**
   * The budgets to plan with: the options where given, else {@link #HEAP_SHARE} of {@code
   * spark.executor.memory} per executor core (one task per core), and of {@code
   * spark.driver.memory}, each at Spark's default 1g when unset. Under a local master the tasks run
   * in the driver's heap, and a task's default share is of {@code spark.driver.memory} over the
   * master's task slots instead.
   */
  public PathOptions resolve(Map<String, String> sparkConf) {
    OptionalInt localSlots = localTaskSlots(sparkConf.get("spark.master"));
    Budget task =
        taskMemory.isPresent()
            ? new Budget(
                taskMemory.getAsLong(), TASK_MEMORY + " " + MergePlan.bytes(taskMemory.getAsLong()))
            : localSlots.isPresent()
                ? fromSpark(
                    sparkConf,
                    "spark.driver.memory",
                    localSlots.getAsInt(),
                    " task slots of " + sparkConf.get("spark.master"),
                    TASK_MEMORY)
                : fromSpark(
                    sparkConf,
                    "spark.executor.memory",
                    coresPerExecutor(sparkConf),
                    " cores",
                    TASK_MEMORY);
    Budget driver =
        driverMemory.isPresent()
            ? new Budget(
                driverMemory.getAsLong(),
                DRIVER_MEMORY + " " + MergePlan.bytes(driverMemory.getAsLong()))
            : fromSpark(sparkConf, "spark.driver.memory", 1, "", DRIVER_MEMORY);
    return new PathOptions(forced, task, driver);
  }

  /**
   * The task slots of a local master ({@code local}: 1, {@code local[N]} or {@code local[N,F]}: N,
   * {@code local[*]}: this machine's processors); empty for any other master, or none.
   */
  public static OptionalInt localTaskSlots(String master) {
    if (master == null) {
      return OptionalInt.empty();
    }
    Matcher m = LOCAL_MASTER.matcher(master.trim());
    if (!m.matches()) {
      return OptionalInt.empty();
    }
    String slots = m.group(1);
    if (slots == null) {
      return OptionalInt.of(1);
    }
    // local[0] is Spark's to refuse; here it must not divide a budget by zero.
    return OptionalInt.of(
        slots.equals("*")
            ? Runtime.getRuntime().availableProcessors()
            : Math.max(1, Integer.parseInt(slots)));
  }

  private static Budget fromSpark(
      Map<String, String> conf, String key, int share, String sharedBy, String option) {
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
            share > 1 ? " over " + share + sharedBy : "",
            option));
  }

  private static int coresPerExecutor(Map<String, String> conf) {
    return Math.max(1, Integer.parseInt(conf.getOrDefault("spark.executor.cores", "1").trim()));
  }
}
