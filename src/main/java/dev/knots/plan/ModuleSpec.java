package dev.knots.plan;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * One module to merge: its shape and, per task in order, where its update comes from (empty for a
 * task that does not change the module, whose update is zero).
 *
 * @param key PEFT's module key, e.g. {@code layers.0.self_attn.q_proj}
 * @param out output features {@code O} (rows of {@code dW})
 * @param in input features {@code I} (columns of {@code dW})
 */
public record ModuleSpec(String key, int out, int in, List<UpdateSource> sources)
    implements Serializable {

  public ModuleSpec {
    sources = Collections.unmodifiableList(new ArrayList<>(sources));
  }

  public int taskCount() {
    return sources.size();
  }

  public Optional<UpdateSource> source(int task) {
    return Optional.ofNullable(sources.get(task));
  }

  /** Whether every task's update is LoRA factors, so the exact factor-space path applies. */
  public boolean factored() {
    return sources.stream().allMatch(s -> s == null || s.factored());
  }

  /** Entries of one task's dense update, {@code O x I}. */
  public long entries() {
    return (long) out * in;
  }

  /** Bytes the module's alignment reads, over all tasks. */
  public long inputBytes() {
    return sources.stream().mapToLong(s -> s == null ? 0 : s.byteLength()).sum();
  }

  /** The sum of the tasks' ranks, {@code S}: the size of the KnOTS core for this module. */
  public int totalRank() {
    return sources.stream().mapToInt(s -> s == null ? 0 : s.rank()).sum();
  }
}
