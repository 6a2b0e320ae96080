package dev.knots.io;

import java.io.IOException;

/**
 * A file was read, but its content is malformed or uses a feature this project does not support.
 * The message names the file (and the tensor or key concerned) and says what to do.
 */
public class FileFormatException extends IOException {

  private static final long serialVersionUID = 1L;

  public FileFormatException(String message) {
    super(message);
  }

  public FileFormatException(String message, Throwable cause) {
    super(message, cause);
  }
}
