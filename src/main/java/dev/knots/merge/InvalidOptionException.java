package dev.knots.merge;

/** A merge option outside its allowed range; raised before any work starts. */
public final class InvalidOptionException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String option;

  public InvalidOptionException(String option, Object value, String rule) {
    super("Invalid " + option + " " + value + ": " + rule + ".");
    this.option = option;
  }

  /** The command-line name of the offending option, for example {@code --top-k}. */
  public String option() {
    return option;
  }
}
