package dev.knots.job;

import dev.knots.io.FileFormatException;
import dev.knots.io.Locations;
import dev.knots.io.Redacted;
import dev.knots.merge.InvalidOptionException;
import java.io.IOException;
import java.util.Optional;

/** How a failed merge is told to the person who ran it, whichever engine ran it. */
public final class MergeFailure {

  private MergeFailure() {}

  /**
   * The failure as the user should see it: naming the destination, unless an input or an option is
   * to blame. Spark wraps a task's exception in "Job aborted due to stage failure ..." and a task
   * names the staging location it wrote to, so the reason is our own message from the cause chain
   * when there is one.
   */
  public static IOException of(String output, Exception e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      if (t instanceof FileFormatException || t instanceof InvalidOptionException) {
        // what an input holds or an option asks for: the output is not to blame
        return new IOException(Locations.redact(t.getMessage()), Redacted.causeOrNull(e));
      }
    }
    String destination = Locations.redact(output);
    String reason = Locations.redact(reason(e));
    if (e instanceof IOException io && reason.startsWith("Cannot write the merge to ")) {
      return io;
    }
    return new IOException(
        "Cannot write the merge to " + destination + ": " + reason, Redacted.causeOrNull(e));
  }

  /** Our own message from the cause chain, else the first line of the outermost message. */
  public static String reason(Throwable e) {
    Optional<Throwable> ours = explaining(e);
    if (ours.isPresent()) {
      return ours.get().getMessage();
    }
    String text = e.getMessage() == null ? e.toString() : e.getMessage();
    return text.lines().findFirst().orElse(text);
  }

  /**
   * The first exception of the cause chain with our own message for the user: an I/O failure, or
   * one of this project's exceptions. Empty for a failure nobody explained, such as a bug.
   */
  public static Optional<Throwable> explaining(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t.getMessage() != null
          && (t instanceof IOException || t.getClass().getName().startsWith("dev.knots."))) {
        return Optional.of(t);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return Optional.empty();
  }
}
