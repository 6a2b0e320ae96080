package dev.knots.merge;

/** A merge option outside its allowed range; raised before any work starts. */
public class InvalidOptionException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  private final String option;
  private final String rule;

  public InvalidOptionException(String option, Object value, String rule) {
    super("Invalid " + option + " " + value + ": " + rule + ".");
    this.option = option;
    this.rule = rule;
  }

  /**
   * A refusal told by its whole {@code message}, for a value that comes from elsewhere than the
   * command line (a sweep file's key), which the message names its own way.
   */
  protected InvalidOptionException(String option, String message) {
    super(message);
    this.option = option;
    this.rule = message;
  }

  /** The command-line name of the offending option, for example {@code --top-k}. */
  public String option() {
    return option;
  }

  /**
   * What the value breaks and what to do, without the option and the value ({@code must be a
   * percentage in (0, 100]}), for a caller that names the value another way; the whole message for
   * a refusal built from one.
   */
  public String rule() {
    return rule;
  }
}
