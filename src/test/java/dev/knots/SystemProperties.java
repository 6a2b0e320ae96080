package dev.knots;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Runs code with some system properties set, as spark-submit sets a driver's Spark properties, and
 * puts the earlier values back afterwards.
 */
public final class SystemProperties {
  private SystemProperties() {}

  public static <T> T with(Map<String, String> properties, Supplier<T> action) {
    Map<String, String> saved = new HashMap<>();
    properties.forEach((k, v) -> saved.put(k, System.setProperty(k, v)));
    try {
      return action.get();
    } finally {
      saved.forEach(
          (k, v) -> {
            if (v == null) {
              System.clearProperty(k);
            } else {
              System.setProperty(k, v);
            }
          });
    }
  }
}
