package dev.knots.plan;

import java.io.Serializable;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A memory budget the planner holds a path's working set to, and where it came from, so a refusal
 * can say which option to change.
 *
 * @param origin for messages, e.g. {@code --task-memory 2g} or {@code default: 60% of
 *     spark.executor.memory 1g}
 */
public record Budget(long bytes, String origin) implements Serializable {

  private static final Pattern SIZE =
      Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(?:i?b)?", Pattern.CASE_INSENSITIVE);

  /**
   * Parses a JVM-style size ({@code 512m}, {@code 2g}, {@code 1.5g}, {@code 4096k}); a bare number
   * counts in {@code bareUnit} bytes (1 for our options, MiB for Spark's memory settings).
   *
   * @throws IllegalArgumentException if {@code text} is not such a size
   */
  public static long parse(String text, long bareUnit) {
    Matcher m = SIZE.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a size; write e.g. 512m, 2g or 1.5g");
    }
    long unit =
        switch (m.group(2).toLowerCase(Locale.ROOT)) {
          case "k" -> 1L << 10;
          case "m" -> 1L << 20;
          case "g" -> 1L << 30;
          case "t" -> 1L << 40;
          default -> bareUnit;
        };
    return (long) (Double.parseDouble(m.group(1)) * unit);
  }

  public String describe() {
    return MergePlan.bytes(bytes) + " (" + origin + ")";
  }
}
