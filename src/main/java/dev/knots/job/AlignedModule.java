package dev.knots.job;

import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import java.io.Serializable;

/**
 * One module after alignment: the representation of every task that the merge methods work on. For
 * KnOTS methods {@code representations[i]} is {@code R_i} (k x I, or k x O with {@link
 * Concat#INPUT}) flattened in the matrix's own column-major layout (no transposes on the hot path;
 * the order only matters for DARE's per-entry masks), and {@code basis} is the shared {@code U};
 * for plain methods it is {@code dW_i} (O x I) and there is no basis. Representations are float32
 * (see {@link dev.knots.merge.ModuleVectors}), as aligned: DARE drops entries of a copy.
 *
 * @param basis {@code U}: O x k ({@link Concat#OUTPUT}) or I x k ({@link Concat#INPUT}); null for
 *     plain methods
 * @param singularValues the joint singular values kept (> 1e-5), descending; empty for plain
 */
public record AlignedModule(
    String key,
    int out,
    int in,
    Concat concat,
    Matrix basis,
    double[] singularValues,
    float[][] representations)
    implements Serializable {

  /** Bytes its arrays take in memory: the representations and the basis. */
  public long heapBytes() {
    long bytes = basis == null ? 0 : 8L * basis.data.length;
    for (float[] representation : representations) {
      bytes += 4L * representation.length;
    }
    return bytes;
  }

  public boolean isAligned() {
    return basis != null;
  }

  /** The number of KnOTS components kept, {@code k}; 0 for plain methods. */
  public int components() {
    return singularValues.length;
  }

  /** Rows and columns of one task's representation. */
  public int representationRows() {
    return isAligned() ? components() : out;
  }

  public int representationCols() {
    if (!isAligned()) {
      return in;
    }
    return concat == Concat.OUTPUT ? in : out;
  }
}
