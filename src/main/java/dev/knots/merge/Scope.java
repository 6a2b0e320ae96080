package dev.knots.merge;

import java.util.Locale;

/** Which entries a TIES threshold and majority sign are computed over. */
public enum Scope {
  /** One vector per task concatenating every module: the reference behaviour. */
  GLOBAL,
  /** Each module on its own. */
  MODULE;

  public String optionValue() {
    return name().toLowerCase(Locale.ROOT);
  }

  public static Scope parse(String value) {
    for (Scope scope : values()) {
      if (scope.optionValue().equals(value)) {
        return scope;
      }
    }
    throw new InvalidOptionException("--scope", value, "must be global or module");
  }
}
