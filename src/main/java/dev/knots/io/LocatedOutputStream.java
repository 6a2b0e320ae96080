package dev.knots.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The stream {@link OutputFile#create()} returns: it names the file, once, in every error of the
 * storage's own stream, so {@link FileStore} implementations share the wording.
 */
public final class LocatedOutputStream extends FilterOutputStream {
  private final String location;

  /** Wraps {@code out}, which writes {@code location}. */
  public LocatedOutputStream(OutputStream out, String location) {
    super(out);
    this.location = location;
  }

  @Override
  public void write(int b) throws IOException {
    try {
      out.write(b);
    } catch (IOException e) {
      throw Storage.wrap("write", location, e);
    }
  }

  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    try {
      out.write(b, off, len);
    } catch (IOException e) {
      throw Storage.wrap("write", location, e);
    }
  }

  @Override
  public void flush() throws IOException {
    try {
      out.flush();
    } catch (IOException e) {
      throw Storage.wrap("write", location, e);
    }
  }

  @Override
  public void close() throws IOException {
    try {
      out.close();
    } catch (IOException e) {
      throw Storage.wrap("close", location, e);
    }
  }
}
