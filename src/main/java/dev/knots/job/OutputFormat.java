package dev.knots.job;

import dev.knots.merge.InvalidOptionException;
import java.util.Locale;

/** What a merge writes. */
public enum OutputFormat {
  /** A PEFT LoRA adapter carrying the merged update exactly. */
  ADAPTER,
  /** The base model with the merged update added, in the base's dtype and shard layout. */
  MODEL,
  /** Both, in {@code adapter/} and {@code model/} under the output directory. */
  BOTH;

  public String optionValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean writesAdapter() {
    return this != MODEL;
  }

  public boolean writesModel() {
    return this != ADAPTER;
  }

  public static OutputFormat parse(String value) {
    for (OutputFormat format : values()) {
      if (format.optionValue().equals(value)) {
        return format;
      }
    }
    throw new InvalidOptionException("--format", value, "must be adapter, model or both");
  }
}
