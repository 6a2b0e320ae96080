package dev.knots.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/** An output file that runs a test's hooks before it is created and after its stream is closed. */
public final class HookedOutputFile implements OutputFile {

  /** A hook; it may fail the write. */
  public interface Hook {
    void run() throws IOException;
  }

  private final OutputFile file;
  private final Hook beforeCreate;
  private final Hook afterClose;

  public HookedOutputFile(OutputFile file, Hook beforeCreate, Hook afterClose) {
    this.file = file;
    this.beforeCreate = beforeCreate;
    this.afterClose = afterClose;
  }

  @Override
  public String location() {
    return file.location();
  }

  @Override
  public OutputStream create() throws IOException {
    beforeCreate.run();
    return new FilterOutputStream(file.create()) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        super.close();
        afterClose.run();
      }
    };
  }
}
