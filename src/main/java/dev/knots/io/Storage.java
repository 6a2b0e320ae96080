package dev.knots.io;

import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** Small helpers shared by {@link FileStore} implementations and the file formats. */
public final class Storage {

  private Storage() {}

  /**
   * Reads a whole small file (a JSON config or index) into memory.
   *
   * @param maxBytes files longer than this are refused, so a wrong path cannot exhaust memory
   * @throws FileFormatException naming the file if it is longer than {@code maxBytes}
   */
  public static byte[] readAll(InputFile file, int maxBytes) throws IOException {
    long length = file.length();
    if (length > maxBytes) {
      throw new FileFormatException(
          "Cannot read "
              + file.location()
              + ": it has "
              + length
              + " bytes, more than the "
              + maxBytes
              + " expected for this kind of file. Check the path.");
    }
    byte[] bytes = new byte[(int) length];
    try (RangeReader reader = file.open()) {
      reader.readFully(0, bytes, 0, bytes.length);
    }
    return bytes;
  }

  /** Creates {@code file} with exactly {@code bytes} as its content. */
  public static void writeAll(OutputFile file, byte[] bytes) throws IOException {
    try (OutputStream out = file.create()) {
      out.write(bytes);
    }
  }

  /**
   * Wraps an exception from the underlying storage once, as "Cannot {action} {location}: reason",
   * keeping {@link EOFException} and {@link FileNotFoundException} recognisable by type. The
   * message is {@linkplain Locations#redact redacted}, so credentials in a URI do not show.
   */
  public static IOException wrap(String action, String location, IOException e) {
    return wrap(action, location, reason(e), e);
  }

  /**
   * Like {@link #wrap(String, String, IOException)}, with the reason given by the caller (a {@link
   * FileStore} that knows its storage's exception types better).
   */
  public static IOException wrap(String action, String location, String reason, IOException e) {
    String prefix = "Cannot " + action + " " + Locations.redact(location) + ": ";
    if (e instanceof NoSuchFileException || e instanceof FileNotFoundException) {
      FileNotFoundException notFound =
          new FileNotFoundException(prefix + "no such file or directory");
      notFound.initCause(e);
      return notFound;
    }
    if (e instanceof EOFException) {
      EOFException eof = new EOFException(prefix + Locations.redact(e.getMessage()));
      eof.initCause(e);
      return eof;
    }
    return new IOException(prefix + Locations.redact(reason), e);
  }

  /**
   * The failure of {@link FileStore#rename} when something exists at the target: a {@link
   * FileAlreadyExistsException} whose message names both locations.
   */
  public static FileAlreadyExistsException renameTargetExists(String from, String to) {
    String target = Locations.redact(to);
    return new FileAlreadyExistsException(
        null,
        null,
        "Cannot rename "
            + Locations.redact(from)
            + " to "
            + target
            + ": "
            + target
            + " already exists. Delete it first or choose another name.");
  }

  private static String reason(IOException e) {
    if (e instanceof FileAlreadyExistsException) {
      return "it already exists";
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NotDirectoryException) {
      return "not a directory";
    }
    if (e instanceof DirectoryNotEmptyException) {
      return "directory not empty";
    }
    String message = e.getMessage();
    return message == null ? e.getClass().getSimpleName() : message;
  }
}
