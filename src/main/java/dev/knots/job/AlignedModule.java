package dev.knots.job;

import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleMerge;
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

  /**
   * The module merged as {@code method} asks, with the merge's {@code statistics}: DARE drops
   * entries of a copy of the representations, then top-K, sign election and combine.
   */
  public MergedVector merge(
      MergeMethod method, MergeParameters parameters, MergeStatistics statistics) {
    return ModuleMerge.merge(
        method,
        parameters,
        statistics,
        ModuleMerge.prepare(method, parameters, key, representations));
  }

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
