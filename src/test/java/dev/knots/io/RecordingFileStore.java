package dev.knots.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link FileStore} that delegates to another and records, in order, when files are created and
 * closed.
 */
public final class RecordingFileStore implements FileStore {

  private final FileStore delegate;
  private final List<String> events = new ArrayList<>();

  public RecordingFileStore(FileStore delegate) {
    this.delegate = delegate;
  }

  /** "create NAME" and "close NAME" events, NAME being the last path segment. */
  public synchronized List<String> events() {
    return List.copyOf(events);
  }

  private synchronized void record(String event) {
    events.add(event);
  }

  private static String name(String location) {
    return location.substring(location.lastIndexOf('/') + 1);
  }

  @Override
  public InputFile inputFile(String location) {
    return delegate.inputFile(location);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    return delegate.inputFile(location, knownLength);
  }

  @Override
  public OutputFile outputFile(String location) {
    OutputFile file = delegate.outputFile(location);
    return new OutputFile() {
      @Override
      public String location() {
        return location;
      }

      @Override
      public OutputStream create() throws IOException {
        record("create " + name(location));
        return new FilterOutputStream(file.create()) {
          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
          }

          @Override
          public void close() throws IOException {
            super.close();
            record("close " + name(location));
          }
        };
      }
    };
  }

  @Override
  public boolean exists(String location) throws IOException {
    return delegate.exists(location);
  }

  @Override
  public boolean isDirectory(String location) throws IOException {
    return delegate.isDirectory(location);
  }

  @Override
  public void rename(String from, String to) throws IOException {
    delegate.rename(from, to);
  }

  @Override
  public List<String> list(String directory) throws IOException {
    return delegate.list(directory);
  }

  @Override
  public void deleteRecursively(String location) throws IOException {
    delegate.deleteRecursively(location);
  }

  @Override
  public void mkdirs(String location) throws IOException {
    delegate.mkdirs(location);
  }

  @Override
  public String resolve(String directory, String child) {
    return delegate.resolve(directory, child);
  }
}
