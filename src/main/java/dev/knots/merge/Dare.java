package dev.knots.merge;

import java.nio.charset.StandardCharsets;

/**
 * DARE's drop-and-rescale, {@code x <- x * m / (1 - p)} with {@code m ~ Bernoulli(1 - p)} per
 * entry. The mask is counter-based: entry {@code j} of task {@code i} in module {@code m} is kept
 * iff {@code u(seed, i, m, j) >= p}, where {@code u} is a hash to [0, 1). So a mask depends on
 * (seed, task, module, entry) alone, never on partitioning, retries or the order work runs in.
 */
public final class Dare {
  private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

  private Dare() {}

  /**
   * Drops and rescales {@code values} in place.
   *
   * @param values one task's entries of one module, in the module's layout order; modified
   * @param dropRate {@code p} in [0, 1)
   */
  public static void apply(float[] values, double dropRate, long seed, int task, String module) {
    if (dropRate == 0) {
      return;
    }
    double rescale = 1.0 / (1.0 - dropRate);
    long stream = streamKey(seed, task, module);
    for (int j = 0; j < values.length; j++) {
      values[j] = keeps(stream, j, dropRate) ? (float) (values[j] * rescale) : 0f;
    }
  }

  /** The key of the (seed, task, module) stream; entries are indexed within it. */
  static long streamKey(long seed, int task, String module) {
    long h = mix(seed) ^ mix(GOLDEN_GAMMA * (task + 1L));
    for (byte b : module.getBytes(StandardCharsets.UTF_8)) {
      h = mix(h ^ (b & 0xFF));
    }
    return h;
  }

  static boolean keeps(long stream, long entry, double dropRate) {
    long bits = mix(stream + GOLDEN_GAMMA * (entry + 1));
    double uniform = (bits >>> 11) * 0x1.0p-53;
    return uniform >= dropRate;
  }

  /** SplitMix64's finalizer: a bijective 64-bit mix with good avalanche. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
