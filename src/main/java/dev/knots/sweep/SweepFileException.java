package dev.knots.sweep;

import dev.knots.merge.InvalidOptionException;

/**
 * A sweep file the sweep cannot use, refused before any work: {@code Invalid sweep file <file>,
 * line <n>: <key path>: <what is wrong>; <what to do>.} The command line treats it as any invalid
 * option (exit code 2).
 */
public final class SweepFileException extends InvalidOptionException {
  private static final long serialVersionUID = 1L;

  /** The option that names the file. */
  static final String OPTION = "--config";

  private final int line;
  private final String key;

  /**
   * @param key the key path as written ({@code grid.top-k[1]}); empty when the fault is not under
   *     one key (the file is not YAML)
   * @param problem what is wrong and what to do, without the final period
   */
  SweepFileException(String location, int line, String key, String problem) {
    super(
        OPTION,
        "Invalid sweep file "
            + location
            + ", line "
            + line
            + ": "
            + (key.isEmpty() ? "" : key + ": ")
            + problem
            + ".");
    this.line = line;
    this.key = key;
  }

  /** The line of the file at fault, from 1. */
  public int line() {
    return line;
  }

  /**
   * The key path at fault, as written ({@code grid.top-k[1]}); empty for a file that is not YAML.
   */
  public String key() {
    return key;
  }
}
