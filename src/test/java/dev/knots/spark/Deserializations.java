package dev.knots.spark;

import java.io.ObjectInputFilter;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts, in this JVM, how often Java deserialization meets each class: once per stream that holds
 * an instance (a task's closure, a broadcast's value), through the JVM-wide deserialization filter,
 * which it installs on first use and which lets everything pass.
 */
final class Deserializations {
  private static final Map<String, AtomicLong> COUNTS = new ConcurrentHashMap<>();

  static {
    ObjectInputFilter.Config.setSerialFilter(
        info -> {
          Class<?> type = info.serialClass();
          if (type != null) {
            COUNTS.computeIfAbsent(type.getName(), name -> new AtomicLong()).incrementAndGet();
          }
          return ObjectInputFilter.Status.UNDECIDED;
        });
  }

  private Deserializations() {}

  /** How often a stream with an instance of {@code className} was read so far. */
  static long of(String className) {
    AtomicLong count = COUNTS.get(className);
    return count == null ? 0 : count.get();
  }
}
