package dev.knots.io;

import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;

/**
 * Causes fit to attach to this project's exceptions. Hadoop file systems often put the path, as
 * given, into their messages; if a path carried credentials ({@code s3a://KEY:SECRET@bucket/x}),
 * the cause's message, printed with every stack trace, would show them.
 */
public final class Redacted {

  private Redacted() {}

  /**
   * {@code e} itself if no message in its cause chain contains user-info, otherwise a copy of the
   * same kind (not found, end of file, other) with the redacted message and {@code e}'s stack
   * trace, but without the chain.
   */
  public static IOException cause(IOException e) {
    if (!revealsUserInfo(e)) {
      return e;
    }
    String message = Locations.redact(e.getClass().getName() + ": " + e.getMessage());
    IOException copy;
    if (e instanceof FileNotFoundException) {
      copy = new FileNotFoundException(message);
    } else if (e instanceof EOFException) {
      copy = new EOFException(message);
    } else {
      copy = new IOException(message);
    }
    copy.setStackTrace(e.getStackTrace());
    return copy;
  }

  /** {@code e} itself, or {@code null} if a message in its cause chain contains user-info. */
  public static RuntimeException cause(RuntimeException e) {
    return revealsUserInfo(e) ? null : e;
  }

  /**
   * {@code e} itself, or {@code null} if a message in its cause chain contains user-info: for
   * attaching a cause of any kind.
   */
  public static Throwable causeOrNull(Throwable e) {
    return revealsUserInfo(e) ? null : e;
  }

  private static boolean revealsUserInfo(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      String message = t.getMessage();
      if (message != null && !message.equals(Locations.redact(message))) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }
}
