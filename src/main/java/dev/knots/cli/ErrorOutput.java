package dev.knots.cli;

import dev.knots.io.Locations;
import dev.knots.job.MergeFailure;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.FileAppender;
import org.slf4j.LoggerFactory;

/**
 * How a failure reaches the terminal: one {@code Error:} line in the command line's words, then,
 * one line each, the causes that add to it, and the log file with the stack traces when there is
 * one. Never a stack trace: the logging configuration of scripts/knots-merge
 * (conf/log4j2.properties) sends Spark's task failures to its details file, and the trace of a
 * failure nobody explained (a bug) goes there too, through {@link #DETAILS_LOGGER}. Every line is
 * redacted and escaped ({@link Locations}).
 */
final class ErrorOutput {
  /** The logger whose events conf/log4j2.properties writes to the details file only. */
  static final String DETAILS_LOGGER = "knots-merge.details";

  /** The appender of conf/log4j2.properties that writes the details file. */
  static final String DETAILS_APPENDER = "details";

  private static final int MAX_CAUSES = 4;

  private ErrorOutput() {}

  /** Prints an error with {@code message}. */
  static void print(PrintStream err, String message) {
    err.println("Error: " + shown(message));
  }

  /**
   * Prints {@code failure}: our own message from its cause chain ({@link MergeFailure#reason}), the
   * causes below it that say something it does not, and the details file if anything was written to
   * it.
   */
  static void print(PrintStream err, Throwable failure) {
    String reason = MergeFailure.reason(failure);
    print(err, reason);
    Optional<Throwable> explained = MergeFailure.explaining(failure);
    if (explained.isEmpty()) {
      LoggerFactory.getLogger(DETAILS_LOGGER)
          .error("The failure behind \"Error: {}\", which nothing explained:", reason, failure);
    }
    List<String> said = new ArrayList<>(List.of(reason));
    List<String> causes =
        chain(explained.orElse(failure)).stream().skip(1).map(ErrorOutput::describe).toList();
    int printed = 0;
    for (int i = 0; i < causes.size() && printed < MAX_CAUSES; i++) {
      String cause = causes.get(i);
      List<String> deeper = causes.subList(i + 1, causes.size());
      // a wrapper (Spark's "Job aborted ...") repeats a deeper message already said, and adds only
      // its own decoration
      if (!saidAlready(said, cause)
          && deeper.stream().noneMatch(d -> cause.contains(d) && saidAlready(said, d))) {
        err.println("  because: " + shown(cause));
        said.add(cause);
        printed++;
      }
    }
    detailsFile().ifPresent(file -> err.println("  details: " + shown(file.toString())));
  }

  /**
   * The file the details appender of the logging configuration writes, if it has one and it was
   * written to: it is created only then. Under spark-submit the cluster's configuration applies,
   * which has none, and no file is claimed.
   */
  static Optional<Path> detailsFile() {
    if (!(LogManager.getContext(false) instanceof LoggerContext context)
        || !(context.getConfiguration().getAppender(DETAILS_APPENDER)
            instanceof FileAppender appender)) {
      return Optional.empty();
    }
    Path file = Path.of(appender.getFileName());
    try {
      return Files.isRegularFile(file) && Files.size(file) > 0
          ? Optional.of(file)
          : Optional.empty();
    } catch (IOException e) {
      return Optional.empty(); // a file it cannot see is no help to the user either
    }
  }

  private static boolean saidAlready(List<String> said, String text) {
    return said.stream().anyMatch(s -> s.contains(text));
  }

  /** The exception and its causes, outermost first, each once. */
  private static List<Throwable> chain(Throwable failure) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    List<Throwable> chain = new ArrayList<>();
    for (Throwable t = failure; t != null && seen.add(t); t = t.getCause()) {
      chain.add(t);
    }
    return chain;
  }

  /**
   * One line for a cause: its message, or for a file system failure that gives only the path, the
   * path and what went wrong; the kind of exception only when there is nothing else to say.
   */
  private static String describe(Throwable cause) {
    if (cause instanceof FileSystemException e && e.getReason() == null && e.getFile() != null) {
      return e.getFile() + ": " + fileProblem(e);
    }
    String message = cause.getMessage();
    if (message == null || message.isBlank()) {
      return cause.getClass().getSimpleName();
    }
    return message.lines().findFirst().orElse(message);
  }

  private static String fileProblem(FileSystemException e) {
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    } else if (e instanceof AccessDeniedException) {
      return "permission denied";
    } else if (e instanceof FileAlreadyExistsException) {
      return "already exists";
    } else if (e instanceof DirectoryNotEmptyException) {
      return "directory not empty";
    } else if (e instanceof NotDirectoryException) {
      return "not a directory";
    }
    return "file system error";
  }

  /** The text as the terminal may show it: credentials removed, control characters escaped. */
  static String shown(String text) {
    return Locations.printable(Locations.redact(text));
  }
}
