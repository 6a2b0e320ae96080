package dev.knots.plan;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * One module to merge: its shape and, per task in order, where its factors are (empty for a task
 * whose adapter does not adapt the module; the spec treats its update as zero).
 *
 * @param key PEFT's module key, e.g. {@code layers.0.self_attn.q_proj}
 * @param out output features {@code O} (rows of {@code dW})
 * @param in input features {@code I} (columns of {@code dW})
 */
public record ModuleSpec(String key, int out, int in, List<FactorSource> factors)
    implements Serializable {

  public ModuleSpec {
    factors = Collections.unmodifiableList(new ArrayList<>(factors));
  }

  public int taskCount() {
    return factors.size();
  }

  public Optional<FactorSource> factors(int task) {
    return Optional.ofNullable(factors.get(task));
  }

  /** Bytes of factor data the module's alignment reads, over all adapters. */
  public long inputBytes() {
    return factors.stream().mapToLong(f -> f == null ? 0 : f.byteLength()).sum();
  }

  /** The sum of the tasks' ranks, {@code S}: the size of the KnOTS core for this module. */
  public int totalRank() {
    return factors.stream().mapToInt(f -> f == null ? 0 : f.rank()).sum();
  }
}
