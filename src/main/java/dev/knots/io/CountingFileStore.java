package dev.knots.io;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;

/**
 * A {@link FileStore} that passes everything to another and reports to {@link IoCounters} every
 * byte read through {@link RangeReader#readFully} and every byte written to the streams of {@link
 * OutputFile#create()}, once each call has succeeded. Directory operations, lengths and renames are
 * not counted: they move no file content through this process.
 *
 * <p>It is serializable when the delegate and the counters are, so a Spark job can ship it to
 * executors with accumulator-backed counters.
 */
public final class CountingFileStore extends ForwardingFileStore {

  private static final long serialVersionUID = 1L;

  private final IoCounters counters;

  /** Counts the traffic through {@code delegate} into {@code counters}. */
  public CountingFileStore(FileStore delegate, IoCounters counters) {
    super(delegate);
    this.counters = Objects.requireNonNull(counters, "counters");
  }

  @Override
  public InputFile inputFile(String location) {
    return new CountingInputFile(delegate().inputFile(location), counters);
  }

  @Override
  public InputFile inputFile(String location, long knownLength) {
    return new CountingInputFile(delegate().inputFile(location, knownLength), counters);
  }

  @Override
  public OutputFile outputFile(String location) {
    OutputFile file = delegate().outputFile(location);
    return new OutputFile() {
      @Override
      public String location() {
        return file.location();
      }

      @Override
      public OutputStream create() throws IOException {
        return new CountingOutputStream(file.create(), counters);
      }

      @Override
      public String toString() {
        return file.toString();
      }
    };
  }

  private static final class CountingInputFile implements InputFile {
    private final InputFile file;
    private final IoCounters counters;

    CountingInputFile(InputFile file, IoCounters counters) {
      this.file = file;
      this.counters = counters;
    }

    @Override
    public String location() {
      return file.location();
    }

    @Override
    public long length() throws IOException {
      return file.length();
    }

    @Override
    public RangeReader open() throws IOException {
      RangeReader reader = file.open();
      return new RangeReader() {
        @Override
        public void readFully(long position, byte[] buffer, int offset, int length)
            throws IOException {
          reader.readFully(position, buffer, offset, length);
          counters.read(length);
        }

        @Override
        public void close() throws IOException {
          reader.close();
        }
      };
    }

    @Override
    public String toString() {
      return file.toString();
    }
  }

  private static final class CountingOutputStream extends FilterOutputStream {
    private final IoCounters counters;

    CountingOutputStream(OutputStream out, IoCounters counters) {
      super(out);
      this.counters = counters;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      counters.written(1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      out.write(b, off, len);
      counters.written(len);
    }

    @Override
    public void flush() throws IOException {
      out.flush();
    }

    @Override
    public void close() throws IOException {
      out.close();
    }
  }
}
