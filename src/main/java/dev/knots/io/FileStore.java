package dev.knots.io;

import java.io.IOException;
import java.util.List;

/**
 * The storage operations the project needs, over locations given as strings (local paths or URIs
 * such as {@code file:///data/x} or, in other implementations, {@code s3a://bucket/key}).
 *
 * <p>Every {@link IOException} thrown names the location it concerns.
 */
public interface FileStore {

  /** A file to read; no I/O happens until it is used. */
  InputFile inputFile(String location);

  /**
   * A file to read whose length the caller already knows (for example from a directory listing), so
   * {@link InputFile#length()} needs no round trip to the store.
   */
  InputFile inputFile(String location, long knownLength);

  /** A file to create; no I/O happens until {@link OutputFile#create()}. */
  OutputFile outputFile(String location);

  /** Whether a file or directory exists at the location. */
  boolean exists(String location) throws IOException;

  /**
   * Whether a directory exists at the location; {@code false} if nothing or a file is there. On
   * object stores a directory is a prefix with objects under it, or an empty directory marker.
   */
  boolean isDirectory(String location) throws IOException;

  /**
   * Moves a file or a directory tree to a location where nothing exists yet, creating the missing
   * parent directories of {@code to}. Both locations must be on the same file system.
   *
   * <p>Where {@link #renamesAtomically} holds (local disks, HDFS) this is one atomic rename that
   * fails if something exists at {@code to}, even when a concurrent writer creates it a moment
   * before (on local disks the one exception is an empty directory, which the rename replaces). On
   * S3 (s3a) there is no rename: every object is copied and then deleted, so it takes time
   * proportional to the bytes moved, a failure can leave the objects partly at both locations, and
   * the check that {@code to} is free and the copy are two steps. A commit protocol must therefore
   * not rely on it for atomicity on S3, but publish a marker file written last.
   *
   * @throws java.nio.file.FileAlreadyExistsException naming both locations if something exists at
   *     {@code to}
   * @throws java.io.FileNotFoundException naming {@code from} if nothing exists there
   * @throws IOException naming both locations for any other failure
   */
  void rename(String from, String to) throws IOException;

  /**
   * Names (not full locations) of the direct children of a directory, sorted.
   *
   * @throws IOException naming the directory if it does not exist or is not a directory
   */
  List<String> list(String directory) throws IOException;

  /** Deletes a file, or a directory and everything under it; does nothing if nothing is there. */
  void deleteRecursively(String location) throws IOException;

  /** Creates a directory and its missing parents; does nothing if it exists. */
  void mkdirs(String location) throws IOException;

  /**
   * Whether {@link #rename} to {@code location} is one atomic step that fails when something is
   * already there (local disks, HDFS), rather than a copy object by object (S3).
   */
  boolean renamesAtomically(String location);

  /**
   * The location in one spelling, to tell whether two locations are the same file or one lies
   * inside the other: absolute, with the scheme and authority in one form, without {@code .},
   * {@code ..}, repeated or trailing slashes, and with symbolic links resolved where the store has
   * them (on the part of the path that exists). Two locations name the same file if their canonical
   * forms are equal, and {@code b} lies inside {@code a} if {@code canonical(b)} starts with {@code
   * canonical(a) + "/"}. Shown to nobody: messages show the locations as given.
   *
   * @throws IOException naming the location if the store cannot be asked
   */
  String canonical(String location) throws IOException;

  /** The location of {@code child} (a name or relative path) inside {@code directory}. */
  String resolve(String directory, String child);
}
