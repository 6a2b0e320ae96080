package dev.knots.plan;

import dev.knots.merge.InvalidOptionException;
import java.util.Locale;

/** What {@code --vectors} does with the floating tensors of checkpoints that are not 2-D. */
public enum VectorPolicy {
  /** Merge them with the method's plain counterpart, each tensor on its own (the default). */
  MERGE,
  /** Take them from the base model unchanged. */
  BASE;

  public String optionValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static VectorPolicy parse(String value) {
    for (VectorPolicy policy : values()) {
      if (policy.optionValue().equals(value)) {
        return policy;
      }
    }
    throw new InvalidOptionException("--vectors", value, "must be merge or base");
  }
}
