package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.Storage;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * How a merge publishes its output so that nothing partial is ever mistaken for a result, even when
 * two runs write the same destination at once. Everything is written under a staging directory
 * beside the destination, {@code <parent>/_<name>.knots-staging-<run id>}; an output is complete if
 * and only if it has {@code _SUCCESS}.
 *
 * <p>Where the store renames atomically (local disks, HDFS), {@code _SUCCESS} is written into the
 * staging directory, which then becomes the destination in one rename that fails if anything is
 * there: a reader, or a concurrent run, sees no destination or a complete one. With {@code
 * --overwrite} an existing destination is first renamed aside to {@code
 * <parent>/_<name>.knots-replaced-<run id>-<n>} and deleted once the new output is in place; if
 * another run publishes in between, its output is replaced the same way, as a later run would.
 * Without {@code --overwrite} a destination that appeared while the merge ran is kept and this run
 * fails.
 *
 * <p>On S3 there is no rename and no lock: the staging objects are copied to the destination (after
 * deleting an old output with {@code --overwrite}) and {@code _SUCCESS} is written last, so a
 * reader must check the marker, and two runs writing one S3 destination at once can mix their
 * files; only the marker's pointer to the report tells which run finished last.
 */
public final class OutputCommit {
  public static final String SUCCESS = "_SUCCESS";

  private static final String STAGING = ".knots-staging-";
  private static final String REPLACED = ".knots-replaced-";

  /** Renames aside of destinations that other runs keep publishing, before giving up. */
  private static final int PUBLISH_ATTEMPTS = 5;

  private final FileStore store;
  private final String output;
  private final String runId;
  private final String staging;
  private final boolean overwrite;

  private OutputCommit(FileStore store, String output, String runId, boolean overwrite) {
    this.store = store;
    this.output = output;
    this.runId = runId;
    this.staging = beside(output, STAGING + runId);
    this.overwrite = overwrite;
  }

  /**
   * Checks the destination (see {@link #check}) and creates the staging directory, so a long job
   * never runs only to be refused at the end.
   */
  public static OutputCommit begin(FileStore store, String output, boolean overwrite)
      throws IOException {
    check(store, output, overwrite);
    OutputCommit commit =
        new OutputCommit(store, destination(output), UUID.randomUUID().toString(), overwrite);
    store.mkdirs(commit.staging);
    return commit;
  }

  /** What is at an output before a merge writes it. */
  public enum Existing {
    NOTHING,
    /** A directory with {@code _SUCCESS}: a published merge. */
    MERGE,
    /** A directory without {@code _SUCCESS}. */
    DIRECTORY,
    FILE;

    /** What a run that failed after finding this at {@code output} says is there now. */
    public String afterFailure(String output) {
      String shown = Locations.redact(output);
      return switch (this) {
        case NOTHING -> "Nothing was written at " + shown + ".";
        case MERGE -> shown + " still holds its earlier merge, untouched.";
        case DIRECTORY, FILE -> shown + " was left as it was.";
      };
    }
  }

  /**
   * What is at the output, after checking that it names a directory that can be written: not a root
   * or bucket, not a file, and absent unless {@code overwrite}.
   *
   * @throws IOException naming the output and what to do
   */
  public static Existing check(FileStore store, String output, boolean overwrite)
      throws IOException {
    String destination = destination(output);
    Existing existing = inspect(store, destination);
    if (existing == Existing.FILE) {
      throw new IOException(
          "Cannot write the merge to "
              + Locations.redact(destination)
              + ": it is a file, not a directory. Choose another --output; --overwrite"
              + " replaces only a directory.");
    }
    if (existing != Existing.NOTHING && !overwrite) {
      throw OutputExistsException.found(destination, existing == Existing.MERGE);
    }
    return existing;
  }

  private static Existing inspect(FileStore store, String destination) throws IOException {
    if (!store.exists(destination)) {
      return Existing.NOTHING;
    }
    if (!store.isDirectory(destination)) {
      return Existing.FILE;
    }
    return store.exists(store.resolve(destination, SUCCESS)) ? Existing.MERGE : Existing.DIRECTORY;
  }

  /**
   * Staging directories and replaced outputs that other runs left beside the output: from runs that
   * were killed, or from a merge into the same output that is running now. None of them is a
   * complete output.
   */
  public static List<String> leftovers(FileStore store, String output) throws IOException {
    return leftovers(store, List.of(output));
  }

  /**
   * As {@link #leftovers(FileStore, String)}, for many outputs (a sweep's points): each parent
   * directory is listed once.
   */
  public static List<String> leftovers(FileStore store, Collection<String> outputs)
      throws IOException {
    Map<String, Set<String>> prefixesByParent = new LinkedHashMap<>();
    for (String output : outputs) {
      String destination = destination(output);
      prefixesByParent
          .computeIfAbsent(parent(destination), p -> new LinkedHashSet<>())
          .add("_" + name(destination));
    }
    List<String> found = new ArrayList<>();
    for (Map.Entry<String, Set<String>> entry : prefixesByParent.entrySet()) {
      String parent = entry.getKey();
      if (!parent.isEmpty() && !store.isDirectory(parent)) {
        continue;
      }
      for (String child : store.list(parent.isEmpty() ? "." : parent)) {
        if (entry.getValue().stream()
            .anyMatch(p -> child.startsWith(p + STAGING) || child.startsWith(p + REPLACED))) {
          found.add(parent + child);
        }
      }
    }
    return found;
  }

  /** Where every output file is written until the commit. */
  public String staging() {
    return staging;
  }

  public String output() {
    return output;
  }

  /** Publishes the staged output with the report in it, {@code _SUCCESS} marking it complete. */
  public void commit(byte[] report, String reportName) throws IOException {
    Storage.writeAll(store.outputFile(store.resolve(staging, reportName)), report);
    if (store.renamesAtomically(output)) {
      publishByRename(reportName);
    } else {
      publishByCopy(reportName);
    }
  }

  private void publishByRename(String reportName) throws IOException {
    writeSuccess(staging, reportName);
    List<String> replaced = new ArrayList<>();
    try {
      for (int attempt = 1; ; attempt++) {
        try {
          store.rename(staging, output);
          break;
        } catch (FileAlreadyExistsException e) {
          if (!overwrite) {
            throw OutputExistsException.meanwhile(output);
          }
          if (attempt == PUBLISH_ATTEMPTS) {
            throw new IOException(
                "Cannot write the merge to "
                    + Locations.redact(output)
                    + ": other runs published there "
                    + PUBLISH_ATTEMPTS
                    + " times while this one tried to replace it. Run one merge per --output at"
                    + " a time.");
          }
          String aside = beside(output, REPLACED + runId + "-" + attempt);
          try {
            store.rename(output, aside);
            replaced.add(aside);
          } catch (FileNotFoundException movedFirst) {
            // another run moved it aside first (and may have published since): try again
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      restore(replaced);
      throw e;
    }
    for (String old : replaced) {
      try {
        store.deleteRecursively(old);
      } catch (IOException | RuntimeException e) {
        // The merge is published; the next run to this output names what is left.
      }
    }
  }

  /** Puts the newest output moved aside back, when nothing took its place. */
  private void restore(List<String> replaced) {
    if (replaced.isEmpty()) {
      return;
    }
    try {
      if (!store.exists(output)) {
        store.rename(replaced.get(replaced.size() - 1), output);
      }
    } catch (IOException | RuntimeException e) {
      // The failure that led here is what the user needs to see; leftovers() names the rest.
    }
  }

  private void publishByCopy(String reportName) throws IOException {
    if (store.exists(output)) {
      if (!overwrite) {
        throw OutputExistsException.meanwhile(output);
      }
      store.deleteRecursively(output);
    }
    store.rename(staging, output);
    if (store.exists(staging)) {
      // S3 renames by copying and deleting objects; a directory marker can stay behind
      store.deleteRecursively(staging);
    }
    writeSuccess(output, reportName);
  }

  private void writeSuccess(String directory, String reportName) throws IOException {
    Storage.writeAll(
        store.outputFile(store.resolve(directory, SUCCESS)),
        ("merge complete; see " + reportName + "\n").getBytes(StandardCharsets.UTF_8));
  }

  /** Removes the staging directory after a failure; the destination is left as it was. */
  public void abort() {
    try {
      store.deleteRecursively(staging);
    } catch (IOException | RuntimeException e) {
      // The failure that led here is what the user needs to see; the staging name says what it is.
    }
  }

  /**
   * The output without trailing slashes.
   *
   * @throws IllegalArgumentException naming the output if it is empty, a root or bucket, or ends in
   *     {@code .} or {@code ..}
   */
  static String destination(String output) {
    String trimmed = output.strip();
    while (trimmed.endsWith("/")) {
      trimmed = trimmed.substring(0, trimmed.length() - 1);
    }
    int authority = trimmed.indexOf("://");
    int pathStart = authority < 0 ? 0 : trimmed.indexOf('/', authority + 3);
    String name = name(trimmed);
    if (trimmed.isEmpty()
        || trimmed.endsWith(":")
        || pathStart < 0
        || name.equals(".")
        || name.equals("..")) {
      throw new IllegalArgumentException(
          "Cannot write the merge to '"
              + Locations.redact(output)
              + "': give the output directory itself, inside a root or bucket, such as"
              + " out/merged, /data/merged or s3a://bucket/merged.");
    }
    return trimmed;
  }

  /** The parent of a destination up to its last '/', or empty for a relative name. */
  private static String parent(String destination) {
    return destination.substring(0, destination.lastIndexOf('/') + 1);
  }

  private static String name(String destination) {
    return destination.substring(destination.lastIndexOf('/') + 1);
  }

  /** {@code <parent>/_<name><suffix>}. */
  private static String beside(String destination, String suffix) {
    return parent(destination) + "_" + name(destination) + suffix;
  }

  /** The destination exists and {@code --overwrite} was not given. */
  public static final class OutputExistsException extends IOException {
    private static final long serialVersionUID = 1L;

    private OutputExistsException(String output, String what) {
      super(
          "Cannot write the merge to "
              + Locations.redact(output)
              + what
              + " Choose another --output, or add --overwrite to replace it"
              + " once the new merge is complete.");
    }

    /** Found before the merge: a published merge ({@code complete}) or another directory. */
    static OutputExistsException found(String output, boolean complete) {
      return new OutputExistsException(
          output,
          complete
              ? ": it already exists."
              : ": it already exists, without "
                  + SUCCESS
                  + ", so it is not a complete merge (an S3 output whose copy was interrupted, or"
                  + " a directory of something else).");
    }

    /** Published by another run while this one was running. */
    static OutputExistsException meanwhile(String output) {
      return new OutputExistsException(
          output,
          ": another run wrote it while this one was running; it is left as that run wrote it and"
              + " this run's result is discarded.");
    }
  }
}
