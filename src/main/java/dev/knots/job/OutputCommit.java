package dev.knots.job;

import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.Storage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * How a merge publishes its output so that nothing partial is ever mistaken for a result.
 * Everything is written under a staging directory beside the destination, {@code
 * <parent>/_<name>.knots-staging-<run id>}; on commit the staging directory becomes the destination
 * (replacing an old output only then, with {@code --overwrite}) and {@code _SUCCESS} is written
 * last. An output is complete if and only if it has {@code _SUCCESS}: on HDFS and local disks the
 * directory rename is atomic, on S3 it is a copy, so a reader must check the marker.
 */
public final class OutputCommit {
  public static final String SUCCESS = "_SUCCESS";

  private final FileStore store;
  private final String output;
  private final String staging;
  private final boolean overwrite;

  private OutputCommit(FileStore store, String output, String staging, boolean overwrite) {
    this.store = store;
    this.output = output;
    this.staging = staging;
    this.overwrite = overwrite;
  }

  /**
   * Checks the destination and creates the staging directory. Fails at once when the output exists
   * and {@code overwrite} is false, so a long job never runs only to be refused at the end.
   */
  public static OutputCommit begin(FileStore store, String output, boolean overwrite)
      throws IOException {
    String trimmed = output.endsWith("/") ? output.substring(0, output.length() - 1) : output;
    int slash = trimmed.lastIndexOf('/');
    if (slash < 0 || slash == trimmed.length() - 1 || trimmed.endsWith(":")) {
      throw new IOException(
          "Cannot write the merge to "
              + Locations.redact(output)
              + ": give a directory path such as out/merged,"
              + " /data/merged or s3a://bucket/merged.");
    }
    if (!overwrite && store.exists(trimmed)) {
      throw new OutputExistsException(trimmed, isComplete(store, trimmed));
    }
    String name = trimmed.substring(slash + 1);
    String staging =
        trimmed.substring(0, slash + 1) + "_" + name + ".knots-staging-" + UUID.randomUUID();
    store.mkdirs(staging);
    return new OutputCommit(store, trimmed, staging, overwrite);
  }

  /** Where every output file is written until the commit. */
  public String staging() {
    return staging;
  }

  public String output() {
    return output;
  }

  /**
   * Publishes the staged output: writes the report into it, replaces an old output if allowed,
   * moves the staging directory to the destination and writes {@code _SUCCESS} last.
   */
  public void commit(byte[] report, String reportName) throws IOException {
    Storage.writeAll(store.outputFile(store.resolve(staging, reportName)), report);
    if (store.exists(output)) {
      if (!overwrite) {
        throw new OutputExistsException(output, isComplete(store, output));
      }
      store.deleteRecursively(output);
    }
    store.rename(staging, output);
    if (store.exists(staging)) {
      // S3 renames by copying and deleting objects; a directory marker can stay behind
      store.deleteRecursively(staging);
    }
    Storage.writeAll(
        store.outputFile(store.resolve(output, SUCCESS)),
        ("merge complete; see " + reportName + "\n").getBytes(StandardCharsets.UTF_8));
  }

  /** Whether an existing output is a published one: it holds {@code _SUCCESS}. */
  static boolean isComplete(FileStore store, String output) throws IOException {
    return store.exists(store.resolve(output, SUCCESS));
  }

  /** Removes the staging directory after a failure; the destination is left as it was. */
  public void abort() {
    try {
      store.deleteRecursively(staging);
    } catch (IOException | RuntimeException e) {
      // The failure that led here is what the user needs to see; the staging name says what it is.
    }
  }

  /** The destination exists and {@code --overwrite} was not given. */
  public static final class OutputExistsException extends IOException {
    private static final long serialVersionUID = 1L;

    OutputExistsException(String output, boolean complete) {
      super(
          "Cannot write the merge to "
              + Locations.redact(output)
              + (complete
                  ? ": it already exists."
                  : ": it already exists, without "
                      + SUCCESS
                      + " (an incomplete output, such as"
                      + " one a crashed run left on S3, or a directory that is no merge).")
              + " Choose another --output, or add --overwrite to replace it"
              + " once the new merge is complete.");
    }
  }
}
