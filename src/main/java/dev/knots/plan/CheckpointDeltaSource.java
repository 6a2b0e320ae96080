package dev.knots.plan;

import dev.knots.io.FileStore;
import dev.knots.knots.DenseUpdate;
import dev.knots.linalg.Matrix;
import java.io.IOException;

/**
 * A 2-D weight's update in a full fine-tuned checkpoint: {@code dW = finetuned - base}, {@code O x
 * I}, read densely in float64.
 */
public record CheckpointDeltaSource(TensorDelta delta, int out, int in) implements UpdateSource {

  @Override
  public String origin() {
    return delta.checkpoint();
  }

  @Override
  public long byteLength() {
    return delta.byteLength();
  }

  /** A dense update may have full rank. */
  @Override
  public int rank() {
    return Math.min(out, in);
  }

  @Override
  public boolean factored() {
    return false;
  }

  @Override
  public DenseUpdate read(FileStore store) throws IOException {
    return new DenseUpdate(Matrix.fromRowMajor(out, in, delta.read(store)));
  }

  /** Rows of {@code dW}: ranged reads of those rows in both files. */
  @Override
  public Matrix readRows(FileStore store, int first, int count) throws IOException {
    return Matrix.fromRowMajor(count, in, delta.read(store, (long) first * in, count * in));
  }
}
