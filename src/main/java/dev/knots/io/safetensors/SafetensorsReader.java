package dev.knots.io.safetensors;

import dev.knots.io.FileFormatException;
import dev.knots.io.InputFile;
import dev.knots.io.RangeReader;
import java.io.Closeable;
import java.io.IOException;

/**
 * Reads individual tensors of a safetensors file with ranged reads of exactly their bytes, never
 * the whole file. The file is opened on the first read and stays open until {@link #close()}; reads
 * may come from several threads.
 */
public final class SafetensorsReader implements Closeable {

  /** Largest tensor read into one array; larger ones are read in ranges. */
  private static final int MAX_ARRAY_BYTES = Integer.MAX_VALUE - 8;

  private final InputFile file;
  private final SafetensorsHeader header;
  private RangeReader reader;

  /** A reader of {@code file}, whose header was read before (for example on another machine). */
  public SafetensorsReader(InputFile file, SafetensorsHeader header) {
    this.file = file;
    this.header = header;
  }

  /** The header the reader was created with. */
  public SafetensorsHeader header() {
    return header;
  }

  /**
   * The tensor's bytes exactly as stored (little-endian elements, row-major).
   *
   * @throws FileFormatException if the tensor does not exist or has more than 2^31 bytes
   */
  public byte[] readRaw(String name) throws IOException {
    TensorInfo tensor = header.require(name);
    return readBytes(tensor, tensor.begin(), tensor.byteLength());
  }

  /**
   * Bytes {@code [offset, offset + length)} of the tensor as stored: a ranged read, for copying
   * tensors too large for one array piece by piece.
   *
   * @throws IllegalArgumentException if the range is outside the tensor
   */
  public byte[] readRaw(String name, long offset, int length) throws IOException {
    TensorInfo tensor = header.require(name);
    requireRange(tensor, offset, length);
    return readBytes(tensor, tensor.begin() + offset, length);
  }

  /**
   * Reads bytes {@code [offset, offset + length)} of {@code tensor} as stored into {@code buffer[0
   * .. length)}: for copying tensors through one buffer.
   */
  void readRawInto(TensorInfo tensor, long offset, byte[] buffer, int length) throws IOException {
    requireRange(tensor, offset, length);
    reader().readFully(header.dataOffset() + tensor.begin() + offset, buffer, 0, length);
  }

  private void requireRange(TensorInfo tensor, long offset, int length) {
    if (offset < 0 || length < 0 || offset + length > tensor.byteLength()) {
      throw new IllegalArgumentException(
          "Cannot read bytes ["
              + offset
              + ", "
              + (offset + length)
              + ") of tensor '"
              + tensor.name()
              + "' in "
              + header.location()
              + ": it has "
              + tensor.byteLength()
              + " bytes.");
    }
  }

  /**
   * The tensor's values, row-major, widened exactly to {@code double} from any floating-point
   * dtype.
   *
   * @throws FileFormatException naming the tensor and file if it is missing, not floating point, or
   *     too large for one array (use {@link #readDoubles(String, long, int)})
   */
  public double[] readDoubles(String name) throws IOException {
    TensorInfo tensor = requireFloat(name);
    return readDoubles(name, 0, checkedCount(tensor, tensor.elementCount()));
  }

  /**
   * Elements {@code [first, first + count)} of the tensor in row-major order, as {@code double}; a
   * ranged read of only those bytes. Lets callers stream tensors too large for one array.
   *
   * @throws IllegalArgumentException if the range is outside the tensor
   */
  public double[] readDoubles(String name, long first, int count) throws IOException {
    TensorInfo tensor = requireFloat(name);
    if (first < 0 || count < 0 || first + count > tensor.elementCount()) {
      throw new IllegalArgumentException(
          "Cannot read elements ["
              + first
              + ", "
              + (first + count)
              + ") of tensor '"
              + name
              + "' in "
              + header.location()
              + ": it has "
              + tensor.elementCount()
              + " elements.");
    }
    int size = tensor.dtype().byteSize();
    byte[] bytes = readBytes(tensor, tensor.begin() + first * size, (long) count * size);
    double[] values = new double[count];
    TensorCodec.decode(tensor.dtype(), bytes, values);
    return values;
  }

  private TensorInfo requireFloat(String name) throws FileFormatException {
    TensorInfo tensor = header.require(name);
    if (!tensor.dtype().isFloat()) {
      throw new FileFormatException(
          "Cannot read tensor '"
              + name
              + "' of "
              + header.location()
              + " as floating point: its dtype is "
              + tensor.dtype()
              + ".");
    }
    return tensor;
  }

  private int checkedCount(TensorInfo tensor, long count) throws FileFormatException {
    if (count > MAX_ARRAY_BYTES / Double.BYTES) {
      throw new FileFormatException(
          "Cannot read tensor '"
              + tensor.name()
              + "' of "
              + header.location()
              + " into one array: it has "
              + count
              + " elements. Read it in ranges with readDoubles(name, first, count).");
    }
    return (int) count;
  }

  private byte[] readBytes(TensorInfo tensor, long begin, long length) throws IOException {
    if (length > MAX_ARRAY_BYTES) {
      throw new FileFormatException(
          "Cannot read tensor '"
              + tensor.name()
              + "' of "
              + header.location()
              + " into one array: it has "
              + length
              + " bytes. Read it in ranges with readDoubles(name, first, count).");
    }
    byte[] bytes = new byte[(int) length];
    reader().readFully(header.dataOffset() + begin, bytes, 0, bytes.length);
    return bytes;
  }

  private synchronized RangeReader reader() throws IOException {
    if (reader == null) {
      reader = file.open();
    }
    return reader;
  }

  @Override
  public synchronized void close() throws IOException {
    if (reader != null) {
      RangeReader open = reader;
      reader = null;
      open.close();
    }
  }
}
