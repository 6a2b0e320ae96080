package dev.knots.linalg;

import java.util.Arrays;
import java.util.Objects;

/**
 * A thin singular value decomposition {@code A = u @ diag(s) @ vt} of an {@code m x n} matrix,
 * float64: {@code u} is {@code m x p} with orthonormal columns, {@code s} holds the {@code p}
 * singular values in descending order, and {@code vt} is {@code p x n} with orthonormal rows.
 * Produced by {@link Decompositions#thinSvd}; {@code p = min(m, n)} until {@link #truncate} drops
 * components. Singular vectors are defined only up to sign (and rotation within repeated values).
 *
 * <p>{@code s} is exposed as is; do not modify it.
 */
public record Svd(Matrix u, double[] s, Matrix vt) {

  /** Validates that {@code u.cols == s.length == vt.rows}. */
  public Svd {
    Objects.requireNonNull(u, "u");
    Objects.requireNonNull(s, "s");
    Objects.requireNonNull(vt, "vt");
    if (u.cols != s.length || vt.rows != s.length) {
      throw new IllegalArgumentException(
          "Cannot form an SVD from U "
              + u
              + ", "
              + s.length
              + " singular values and V^T "
              + vt
              + ": U's columns, the values and V^T's rows must agree.");
    }
  }

  /**
   * Returns the number of components held, {@code s.length}; after {@link #truncate} this is the
   * numerical rank.
   */
  public int rank() {
    return s.length;
  }

  /**
   * Returns the leading components with {@code s_j > absoluteCutoff} (strictly greater, an absolute
   * threshold, not relative to {@code s_0}). Relies on {@code s} being descending. This SVD is not
   * modified.
   */
  public Svd truncate(double absoluteCutoff) {
    if (!(absoluteCutoff >= 0.0)) {
      throw new IllegalArgumentException(
          "Cannot truncate an SVD at " + absoluteCutoff + ": the cutoff must be >= 0.");
    }
    int k = 0;
    while (k < s.length && s[k] > absoluteCutoff) {
      k++;
    }
    if (k == s.length) {
      return this;
    }
    return new Svd(u.columns(0, k), Arrays.copyOf(s, k), vt.rowRange(0, k));
  }

  /** Returns {@code u @ diag(s) @ vt}, shape {@code u.rows x vt.cols}, a new matrix. */
  public Matrix reconstruct() {
    return u.scaleColumns(s).multiply(vt);
  }
}
