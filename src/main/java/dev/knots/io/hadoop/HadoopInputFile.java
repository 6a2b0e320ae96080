package dev.knots.io.hadoop;

import static org.apache.hadoop.fs.Options.OpenFileOptions.FS_OPTION_OPENFILE_LENGTH;
import static org.apache.hadoop.fs.Options.OpenFileOptions.FS_OPTION_OPENFILE_READ_POLICY;
import static org.apache.hadoop.fs.Options.OpenFileOptions.FS_OPTION_OPENFILE_READ_POLICY_RANDOM;

import dev.knots.io.InputFile;
import dev.knots.io.Locations;
import dev.knots.io.RangeReader;
import dev.knots.io.Redacted;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.Objects;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FutureDataInputStreamBuilder;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.util.functional.FutureIO;

/**
 * A file of a {@link HadoopFileStore}. Its length is known from the caller, or read once with
 * {@code getFileStatus} and kept. It is opened with {@link FileSystem#openFile}, passing the status
 * or the known length, so that no store (S3 in particular) has to look the file up again, and with
 * the random read policy, as the readers of this project jump between tensors.
 */
final class HadoopInputFile implements InputFile {

  private final HadoopFileStore store;
  private final String location;
  private final Path path;
  private final long knownLength;
  private volatile FileStatus status;

  HadoopInputFile(HadoopFileStore store, String location, Path path, long knownLength) {
    this.store = store;
    this.location = location;
    this.path = path;
    this.knownLength = knownLength;
  }

  @Override
  public String location() {
    return location;
  }

  @Override
  public long length() throws IOException {
    if (knownLength >= 0) {
      return knownLength;
    }
    return status().getLen();
  }

  private FileStatus status() throws IOException {
    FileStatus current = status;
    if (current == null) {
      current = store.status(location, "read", path);
      if (current == null) {
        throw store.wrap("read", location, new FileNotFoundException(Locations.redact(location)));
      }
      if (current.isDirectory()) {
        throw new IOException(
            "Cannot read " + Locations.redact(location) + ": it is a directory. Name a file.");
      }
      status = current;
    }
    return current;
  }

  @Override
  public RangeReader open() throws IOException {
    FileStatus known = status;
    long end = known != null ? known.getLen() : knownLength;
    return new Reader(store, location, openStream(), end);
  }

  /** The Hadoop stream {@link #open()} reads from. */
  FSDataInputStream openStream() throws IOException {
    FileSystem fs = store.fileSystem(path, "open", location);
    FileStatus known = status;
    try {
      FutureDataInputStreamBuilder builder =
          fs.openFile(path)
              .opt(FS_OPTION_OPENFILE_READ_POLICY, FS_OPTION_OPENFILE_READ_POLICY_RANDOM);
      if (known != null) {
        builder.withFileStatus(known);
      } else if (knownLength >= 0) {
        builder.optLong(FS_OPTION_OPENFILE_LENGTH, knownLength);
      }
      return FutureIO.awaitFuture(builder.build());
    } catch (IOException e) {
      throw store.wrap("open", location, e);
    }
  }

  @Override
  public String toString() {
    return Locations.redact(location);
  }

  /** Positioned reads, which Hadoop's input streams allow from several threads. */
  private static final class Reader implements RangeReader {
    private final HadoopFileStore store;
    private final String location;
    private final FSDataInputStream in;

    /** The length of the file if known when it was opened, otherwise -1. */
    private final long end;

    Reader(HadoopFileStore store, String location, FSDataInputStream in, long end) {
      this.store = store;
      this.location = location;
      this.in = in;
      this.end = end;
    }

    @Override
    public void readFully(long position, byte[] buffer, int offset, int length) throws IOException {
      Objects.checkFromIndexSize(offset, length, buffer.length);
      if (position < 0) {
        throw new IllegalArgumentException(
            "Cannot read " + Locations.redact(location) + " at negative position " + position);
      }
      if (end >= 0 && position + length > end) {
        throw pastEnd("ends at byte " + end, position, length, null);
      }
      try {
        in.readFully(position, buffer, offset, length);
      } catch (EOFException e) {
        throw pastEnd("ends before byte " + (position + length), position, length, e);
      } catch (IOException e) {
        throw store.wrap("read", location, e);
      }
    }

    private EOFException pastEnd(String where, long position, int length, EOFException cause) {
      EOFException eof =
          new EOFException(
              "Cannot read "
                  + Locations.redact(location)
                  + ": the file "
                  + where
                  + ", while "
                  + length
                  + " bytes were requested at position "
                  + position
                  + ". The file is truncated.");
      if (cause != null) {
        eof.initCause(Redacted.cause(cause));
      }
      return eof;
    }

    @Override
    public void close() throws IOException {
      try {
        in.close();
      } catch (IOException e) {
        throw store.wrap("close", location, e);
      }
    }
  }
}
