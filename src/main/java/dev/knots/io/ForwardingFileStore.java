package dev.knots.io;

import java.io.IOException;
import java.io.Serializable;
import java.util.List;
import java.util.Objects;

/**
 * A {@link FileStore} that hands every call to another: the base of decorators, which override what
 * they change. Serializable when the delegate is.
 */
public abstract class ForwardingFileStore implements FileStore, Serializable {

  private static final long serialVersionUID = 1L;

  private final FileStore delegate;

  protected ForwardingFileStore(FileStore delegate) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  /** The store every call goes to. */
  protected final FileStore delegate() {
    return delegate;
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
    return delegate.outputFile(location);
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
  public boolean renamesAtomically(String location) {
    return delegate.renamesAtomically(location);
  }

  @Override
  public String canonical(String location) throws IOException {
    return delegate.canonical(location);
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
