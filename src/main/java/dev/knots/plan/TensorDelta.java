package dev.knots.plan;

import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsReader;
import dev.knots.io.safetensors.TensorInfo;
import java.io.IOException;
import java.io.Serializable;

/**
 * One tensor's change in a full fine-tuned checkpoint, {@code finetuned - base}, located from the
 * two files' headers on the driver. Each header is cut down to the tensor, so a task reads exactly
 * its bytes with no further metadata request. The two files may store the tensor in different
 * floating dtypes (bf16 against f32, say): both are widened exactly to float64 before subtracting.
 *
 * @param checkpoint the fine-tuned model directory, for messages
 * @param tensor the tensor name, the same in both files
 * @param finetuned the checkpoint shard's header, restricted to {@code tensor}
 * @param base the base shard's header, restricted to {@code tensor}
 */
public record TensorDelta(
    String checkpoint, String tensor, SafetensorsHeader finetuned, SafetensorsHeader base)
    implements Serializable {

  /** Number of elements of the tensor. */
  public long elementCount() {
    return base.tensor(tensor).orElseThrow().elementCount();
  }

  /** Bytes a whole read fetches, from both files. */
  public long byteLength() {
    return finetuned.tensor(tensor).orElseThrow().byteLength()
        + base.tensor(tensor).orElseThrow().byteLength();
  }

  /** The whole change, row-major, in float64. */
  public double[] read(FileStore store) throws IOException {
    return read(store, 0, Math.toIntExact(elementCount()));
  }

  /**
   * Elements {@code [first, first + count)} (row-major) of {@code finetuned - base}, with two
   * ranged reads of only those bytes.
   *
   * @throws FileFormatException naming the checkpoint (or base) and tensor if a value is NaN or
   *     infinite
   */
  public double[] read(FileStore store, long first, int count) throws IOException {
    double[] tuned = readFinite(store, finetuned, checkpoint, first, count);
    double[] original = readFinite(store, base, "the base model", first, count);
    for (int i = 0; i < count; i++) {
      tuned[i] -= original[i];
    }
    return tuned;
  }

  private double[] readFinite(
      FileStore store, SafetensorsHeader header, String what, long first, int count)
      throws IOException {
    double[] values;
    try (SafetensorsReader reader =
        new SafetensorsReader(store.inputFile(header.location(), header.fileLength()), header)) {
      values = reader.readDoubles(tensor, first, count);
    }
    for (int i = 0; i < values.length; i++) {
      if (!Double.isFinite(values[i])) {
        TensorInfo info = header.require(tensor);
        throw new FileFormatException(
            "Cannot use "
                + what
                + ": tensor '"
                + tensor
                + "' "
                + info.shapeText()
                + " has "
                + values[i]
                + " at flat index "
                + (first + i)
                + " (file "
                + header.location()
                + "). The checkpoint is corrupt or its training diverged; fix it or leave it out.");
      }
    }
    return values;
  }
}
