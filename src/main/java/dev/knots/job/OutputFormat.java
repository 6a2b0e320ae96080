package dev.knots.job;

import dev.knots.merge.InvalidOptionException;
import java.util.List;
import java.util.Locale;

/** What a merge writes. */
public enum OutputFormat {
  /** A PEFT LoRA adapter carrying the merged update exactly. */
  ADAPTER,
  /** The base model with the merged update added, in the base's dtype and shard layout. */
  MODEL,
  /** Both, in {@code adapter/} and {@code model/} under the output directory. */
  BOTH,
  /** Nothing: a sweep's point that only reports (its diagnostics); never a merge's. */
  NONE;

  public String optionValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean writesAdapter() {
    return this == ADAPTER || this == BOTH;
  }

  public boolean writesModel() {
    return this == MODEL || this == BOTH;
  }

  /** Whether the merge writes an output directory at all. */
  public boolean writes() {
    return this != NONE;
  }

  /** A merge's {@code --format}: adapter, model or both. */
  public static OutputFormat parse(String value) {
    for (OutputFormat format : List.of(ADAPTER, MODEL, BOTH)) {
      if (format.optionValue().equals(value)) {
        return format;
      }
    }
    throw new InvalidOptionException("--format", value, "must be adapter, model or both");
  }
}
