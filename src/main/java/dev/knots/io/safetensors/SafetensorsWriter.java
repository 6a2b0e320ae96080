package dev.knots.io.safetensors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.Json;
import dev.knots.io.OutputFile;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a safetensors file in the standard layout, streaming one tensor at a time so a file never
 * needs all its tensors in memory.
 *
 * <p>Layout: 8-byte little-endian header length {@code N}; {@code N} bytes of compact JSON with
 * {@code "__metadata__": {"format": "pt", ...}} first and then the tensors in layout order with
 * contiguous {@code data_offsets}, padded with spaces so that {@code N} is a multiple of 8; then
 * each tensor's little-endian row-major bytes in layout order.
 *
 * <p>The header is written by {@link #open}; tensors must then be written in layout order, each
 * whole ({@link #write}, {@link #writeRaw}) or in consecutive parts ({@link #writePart}, {@link
 * #writeRawPart}). {@link #close()} fails if a tensor is missing. A failed writer leaves an
 * incomplete file behind: the caller writes under a staging location and owns its cleanup.
 */
public final class SafetensorsWriter implements Closeable {

  private final OutputFile file;
  private final List<TensorSpec> layout;
  private final OutputStream out;
  private int current;
  private long writtenOfCurrent;
  private boolean closed;

  private SafetensorsWriter(OutputFile file, List<TensorSpec> layout, OutputStream out) {
    this.file = file;
    this.layout = layout;
    this.out = out;
  }

  /**
   * Creates {@code out} and writes its header.
   *
   * @param layout the tensors in the order their bytes will be written; names must be unique
   * @param metadata extra {@code __metadata__} entries, after {@code "format": "pt"} (a {@code
   *     "format"} entry here replaces it)
   * @throws IOException naming the file if it exists or cannot be created
   */
  public static SafetensorsWriter open(
      OutputFile out, List<TensorSpec> layout, Map<String, String> metadata) throws IOException {
    List<TensorSpec> tensors = List.copyOf(layout);
    byte[] header = header(tensors, metadata, out.location());
    OutputStream stream = out.create();
    try {
      stream.write(
          ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
      stream.write(header);
    } catch (IOException | RuntimeException e) {
      stream.close();
      throw e;
    }
    return new SafetensorsWriter(out, tensors, stream);
  }

  /** The header bytes (without the length prefix), padded with spaces to a multiple of 8. */
  static byte[] header(List<TensorSpec> layout, Map<String, String> metadata, String location) {
    ObjectNode json = Json.object();
    ObjectNode meta = json.putObject(SafetensorsHeader.METADATA_KEY);
    meta.put("format", "pt");
    metadata.forEach(meta::put);
    Set<String> names = new HashSet<>();
    long offset = 0;
    for (TensorSpec spec : layout) {
      if (!names.add(spec.name())) {
        throw new IllegalArgumentException(
            "Cannot write " + location + ": tensor '" + spec.name() + "' appears twice.");
      }
      ObjectNode entry = json.putObject(spec.name());
      entry.put("dtype", spec.dtype().name());
      ArrayNode shape = entry.putArray("shape");
      Arrays.stream(spec.shape()).forEach(shape::add);
      long end = offset + spec.byteLength();
      entry.putArray("data_offsets").add(offset).add(end);
      offset = end;
    }
    byte[] compact = Json.compact(json);
    int padded = (compact.length + 7) / 8 * 8;
    byte[] header = Arrays.copyOf(compact, padded);
    Arrays.fill(header, compact.length, padded, (byte) ' ');
    return header;
  }

  /** The tensors of this file, in write order. */
  public List<TensorSpec> layout() {
    return layout;
  }

  /**
   * Writes the next tensor whole: {@code rowMajorValues} holds all its elements, converted to its
   * dtype (F64, F32, F16 or BF16) with round-to-nearest-even.
   *
   * @throws IllegalStateException if {@code name} is not the next tensor of the layout, or the
   *     number of values does not match its shape
   */
  public void write(String name, double[] rowMajorValues) throws IOException {
    TensorSpec spec = next(name, "write");
    requireWhole(spec, (long) rowMajorValues.length * spec.dtype().byteSize());
    writePart(name, rowMajorValues);
  }

  /**
   * Writes the next {@code values.length} elements (row-major) of the tensor being written, which
   * is {@code name}. The tensor is complete once all its elements are written; parts of one tensor
   * must be consecutive.
   */
  public void writePart(String name, double[] values) throws IOException {
    TensorSpec spec = writableNext(name);
    append(spec, TensorCodec.encode(spec.dtype(), values, 0, values.length));
  }

  /**
   * Writes the next tensor, a matrix, whole from its values in column-major order (entry {@code (i,
   * j)} at {@code i + j * rows}), the layout of a column-major matrix library: they are transposed
   * to the file's row-major layout in the pass that converts them, so no row-major copy is made.
   *
   * @throws IllegalStateException as {@link #write}, or if the tensor is not 2-D
   */
  public void writeColumnMajor(String name, double[] columnMajorValues) throws IOException {
    TensorSpec spec = writableNext(name);
    long[] shape = spec.shape();
    if (shape.length != 2) {
      throw new IllegalStateException(
          "Cannot write tensor '"
              + name
              + "' to "
              + file.location()
              + " from column-major values: its shape "
              + Arrays.toString(shape)
              + " is not a matrix.");
    }
    requireWhole(spec, (long) columnMajorValues.length * spec.dtype().byteSize());
    append(
        spec,
        TensorCodec.encodeColumnMajor(
            spec.dtype(), columnMajorValues, (int) shape[0], (int) shape[1]));
  }

  private TensorSpec writableNext(String name) {
    TensorSpec spec = next(name, "write");
    if (!spec.dtype().isWritable()) {
      throw new IllegalStateException(
          "Cannot write tensor '"
              + name
              + "' to "
              + file.location()
              + " from doubles: "
              + spec.dtype()
              + " is not writable; use writeRaw.");
    }
    return spec;
  }

  /** Writes the next tensor whole from its stored bytes (little-endian elements, row-major). */
  public void writeRaw(String name, byte[] bytes) throws IOException {
    TensorSpec spec = next(name, "write");
    requireWhole(spec, bytes.length);
    append(spec, bytes);
  }

  /** Writes the next bytes of the tensor being written, which is {@code name}. */
  public void writeRawPart(String name, byte[] bytes) throws IOException {
    append(next(name, "write"), bytes);
  }

  /**
   * Writes the next tensors as copies of every tensor of {@code source}, in the order of its file,
   * through {@code buffer}: no tensor is held whole, and no array is allocated per tensor.
   *
   * @throws IllegalStateException naming both files if a tensor of {@code source} is not the next
   *     one here, or differs from it in dtype or shape
   */
  public void copyTensors(SafetensorsReader source, byte[] buffer) throws IOException {
    for (TensorInfo tensor : source.header().tensors()) {
      TensorSpec spec = next(tensor.name(), "copy");
      if (spec.dtype() != tensor.dtype() || !Arrays.equals(spec.shape(), tensor.shape())) {
        throw new IllegalStateException(
            "Cannot copy tensor '"
                + tensor.name()
                + "' of "
                + source.header().location()
                + " to "
                + file.location()
                + ": it is "
                + tensor.dtype()
                + " "
                + Arrays.toString(tensor.shape())
                + ", and the layout here has "
                + spec.dtype()
                + " "
                + Arrays.toString(spec.shape())
                + ".");
      }
      for (long copied = 0; copied < tensor.byteLength(); ) {
        int length = (int) Math.min(buffer.length, tensor.byteLength() - copied);
        source.readRawInto(tensor, copied, buffer, length);
        append(spec, buffer, length);
        copied += length;
      }
    }
  }

  /**
   * Closes the file.
   *
   * @throws IOException naming the first tensor not (completely) written; the incomplete file is
   *     left for the caller to delete
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    out.close();
    if (current < layout.size()) {
      TensorSpec missing = layout.get(current);
      throw new IOException(
          "Cannot finish "
              + file.location()
              + ": tensor '"
              + missing.name()
              + "' "
              + (writtenOfCurrent > 0
                  ? "is incomplete (" + writtenOfCurrent + " of " + missing.byteLength() + " bytes)"
                  : "was not written")
              + (layout.size() - current > 1
                  ? " and " + (layout.size() - current - 1) + " more after it"
                  : "")
              + "; the file is incomplete.");
    }
  }

  /** Whether every tensor of the layout has been written. */
  boolean isComplete() {
    return current == layout.size();
  }

  private TensorSpec next(String name, String action) {
    if (closed) {
      throw new IllegalStateException(
          "Cannot " + action + " tensor '" + name + "' to " + file.location() + ": closed.");
    }
    if (current >= layout.size()) {
      throw new IllegalStateException(
          "Cannot "
              + action
              + " tensor '"
              + name
              + "' to "
              + file.location()
              + ": all "
              + layout.size()
              + " tensors of the layout are written.");
    }
    TensorSpec spec = layout.get(current);
    if (!spec.name().equals(name)) {
      throw new IllegalStateException(
          "Cannot "
              + action
              + " tensor '"
              + name
              + "' to "
              + file.location()
              + ": tensors must be written in layout order, and the next one is '"
              + spec.name()
              + "'.");
    }
    return spec;
  }

  private void requireWhole(TensorSpec spec, long bytes) {
    if (writtenOfCurrent != 0 || bytes != spec.byteLength()) {
      throw new IllegalStateException(
          "Cannot write tensor '"
              + spec.name()
              + "' to "
              + file.location()
              + ": shape "
              + Arrays.toString(spec.shape())
              + " of "
              + spec.dtype()
              + " needs "
              + spec.byteLength()
              + " bytes ("
              + spec.elementCount()
              + " values), got "
              + bytes
              + " bytes"
              + (writtenOfCurrent != 0 ? " after a partial write" : "")
              + ".");
    }
  }

  private void append(TensorSpec spec, byte[] bytes) throws IOException {
    append(spec, bytes, bytes.length);
  }

  /** Writes {@code bytes[0 .. length)} as the next bytes of {@code spec}. */
  private void append(TensorSpec spec, byte[] bytes, int length) throws IOException {
    if (writtenOfCurrent + length > spec.byteLength()) {
      throw new IllegalStateException(
          "Cannot write tensor '"
              + spec.name()
              + "' to "
              + file.location()
              + ": "
              + (writtenOfCurrent + length)
              + " bytes exceed its "
              + spec.byteLength()
              + " bytes.");
    }
    out.write(bytes, 0, length);
    writtenOfCurrent += length;
    if (writtenOfCurrent == spec.byteLength()) {
      current++;
      writtenOfCurrent = 0;
    }
  }

  @Override
  public String toString() {
    return "SafetensorsWriter["
        + file.location()
        + ", "
        + current
        + " of "
        + layout.size()
        + " tensors written]";
  }
}
