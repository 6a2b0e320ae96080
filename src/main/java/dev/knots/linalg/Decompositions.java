package dev.knots.linalg;

import dev.ludovic.netlib.lapack.LAPACK;
import java.util.Arrays;
import org.netlib.util.intW;

/**
 * Thin QR and thin SVD in float64 through dev.ludovic.netlib LAPACK (native OpenBLAS when it can be
 * loaded, otherwise its pure-Java fallback). Inputs are never modified: LAPACK works on copies.
 */
public final class Decompositions {

  private static final LAPACK LAPACK_ = LAPACK.getInstance();

  private Decompositions() {}

  /**
   * Thin QR {@code A = Q @ R} by Householder reflections (LAPACK dgeqrf, then dorgqr to form {@code
   * Q}). For {@code A} of shape {@code m x n} and {@code p = min(m, n)}: {@code Q} is {@code m x p}
   * with orthonormal columns and {@code R} is {@code p x n}, upper-trapezoidal with exact zeros
   * below the diagonal. The diagonal of {@code R} may be negative. Float64; {@code a} is not
   * modified. An empty {@code a} gives {@code Q} {@code m x 0} and {@code R} {@code 0 x n}.
   *
   * @throws IllegalArgumentException if {@code a} has a NaN or infinite entry
   */
  public static Qr thinQr(Matrix a) {
    int m = a.rows;
    int n = a.cols;
    int p = Math.min(m, n);
    if (p == 0) {
      return new Qr(Matrix.zeros(m, 0), Matrix.zeros(0, n));
    }
    requireFinite(a, "QR");
    double[] f = a.data.clone();
    double[] tau = new double[p];
    intW info = new intW(0);
    double[] query = new double[1];
    LAPACK_.dgeqrf(m, n, f, m, tau, query, -1, info);
    check("dgeqrf", info, a, "QR");
    double[] work = new double[workspace(query)];
    LAPACK_.dgeqrf(m, n, f, m, tau, work, work.length, info);
    check("dgeqrf", info, a, "QR");

    // R is the upper triangle of the first p rows; everything below stays exactly 0
    Matrix r = Matrix.zeros(p, n);
    for (int j = 0; j < n; j++) {
      int last = Math.min(j, p - 1);
      for (int i = 0; i <= last; i++) {
        r.data[i + j * p] = f[i + j * m];
      }
    }

    // the first p columns hold the reflectors that dorgqr turns into Q
    double[] q = Arrays.copyOf(f, m * p);
    LAPACK_.dorgqr(m, p, p, q, m, tau, query, -1, info);
    check("dorgqr", info, a, "QR");
    work = new double[workspace(query)];
    LAPACK_.dorgqr(m, p, p, q, m, tau, work, work.length, info);
    check("dorgqr", info, a, "QR");
    return new Qr(new Matrix(m, p, q), r);
  }

  /**
   * Thin SVD {@code A = U @ diag(s) @ V^T} by divide and conquer (LAPACK dgesdd). For {@code A} of
   * shape {@code m x n} and {@code p = min(m, n)}: {@code U} is {@code m x p}, {@code s} has length
   * {@code p} in descending order (zeros included; see {@link Svd#truncate}), {@code V^T} is {@code
   * p x n}. Float64; {@code a} is not modified.
   *
   * <p>dgesdd is called with {@code jobz = "O"} on a matrix with {@code m >= n} (transposing a wide
   * input first), because netlib 3.2.0 bounds-checks {@code u} as {@code ldu * m} for {@code jobz =
   * "S"} and would demand an {@code m x m} array. For very wide or tall inputs dgesdd itself starts
   * with a QR (or LQ), so the cost stays {@code O(max * min^2)} and no Gramian is formed.
   *
   * @throws IllegalArgumentException if {@code a} has a NaN or infinite entry
   * @throws ArithmeticException if dgesdd does not converge
   */
  public static Svd thinSvd(Matrix a) {
    if (a.rows < a.cols) {
      // A^T = U' s V'^T  implies  A = V' s U'^T
      Svd t = tallSvd(a.transpose(), a);
      return new Svd(t.vt().transpose(), t.s(), t.u().transpose());
    }
    return tallSvd(a.copy(), a);
  }

  /**
   * SVD of {@code work} ({@code m >= n}), which is overwritten with U; {@code original} is for
   * messages.
   */
  private static Svd tallSvd(Matrix work, Matrix original) {
    int m = work.rows;
    int n = work.cols;
    if (n == 0) {
      return new Svd(Matrix.zeros(m, 0), new double[0], Matrix.zeros(0, 0));
    }
    requireFinite(original, "SVD");
    double[] s = new double[n];
    double[] vt = new double[n * n];
    double[] unusedU = new double[1]; // jobz = "O" with m >= n: U overwrites A
    int[] iwork = new int[8 * n];
    intW info = new intW(0);
    double[] query = new double[1];
    LAPACK_.dgesdd("O", m, n, work.data, m, s, unusedU, 1, vt, n, query, -1, iwork, info);
    check("dgesdd", info, original, "SVD");
    double[] space = new double[workspace(query)];
    LAPACK_.dgesdd("O", m, n, work.data, m, s, unusedU, 1, vt, n, space, space.length, iwork, info);
    check("dgesdd", info, original, "SVD");
    return new Svd(new Matrix(m, n, work.data), s, new Matrix(n, n, vt));
  }

  /**
   * SVD of a symmetric positive semidefinite matrix {@code G = V diag(s) V^T}, such as a Gramian,
   * from its eigendecomposition (LAPACK dsyevd, divide and conquer): {@code u} is {@code V}, {@code
   * vt} is {@code V^T} and {@code s} the eigenvalues in descending order, where the tiny negative
   * ones that rounding gives a semidefinite matrix are set to 0. Only the lower triangle of {@code
   * g} is read; {@code g} is not modified. dsyevd's workspace {@code 1 + 6n + 2n^2} must fit an
   * int, so {@code n <= 32766}.
   *
   * @throws IllegalArgumentException if {@code g} is not square or has a NaN or infinite entry
   */
  public static Svd psdSvd(Matrix g) {
    int n = g.rows;
    if (g.cols != n) {
      throw new IllegalArgumentException(
          "Cannot decompose a "
              + g.rows
              + "x"
              + g.cols
              + " matrix as symmetric: it is not square.");
    }
    if (n == 0) {
      return new Svd(Matrix.zeros(0, 0), new double[0], Matrix.zeros(0, 0));
    }
    requireFinite(g, "eigendecomposition");
    double[] v = g.data.clone();
    double[] ascending = new double[n];
    intW info = new intW(0);
    double[] query = new double[1];
    int[] iquery = new int[1];
    LAPACK_.dsyevd("V", "L", n, v, n, ascending, query, -1, iquery, -1, info);
    check("dsyevd", info, g, "eigendecomposition");
    double[] work = new double[workspace(query)];
    int[] iwork = new int[Math.max(1, iquery[0])];
    LAPACK_.dsyevd("V", "L", n, v, n, ascending, work, work.length, iwork, iwork.length, info);
    check("dsyevd", info, g, "eigendecomposition");
    // descending, as an SVD: column j of V is eigenvector n-1-j
    double[] s = new double[n];
    double[] u = new double[n * n];
    for (int j = 0; j < n; j++) {
      s[j] = Math.max(0.0, ascending[n - 1 - j]);
      System.arraycopy(v, (n - 1 - j) * n, u, j * n, n);
    }
    Matrix vectors = new Matrix(n, n, u);
    return new Svd(vectors, s, vectors.transpose());
  }

  private static int workspace(double[] query) {
    // the optimal size comes back as a double; round up so a large size is not cut short
    return Math.max(1, (int) Math.ceil(query[0]));
  }

  private static void check(String routine, intW info, Matrix a, String what) {
    if (info.val < 0) {
      throw new IllegalStateException(
          "Cannot compute the "
              + what
              + " of a "
              + a.rows
              + "x"
              + a.cols
              + " matrix: LAPACK "
              + routine
              + " rejected argument "
              + (-info.val)
              + ". This is a bug in "
              + Decompositions.class.getName()
              + ".");
    }
    if (info.val > 0) {
      throw new ArithmeticException(
          "Cannot compute the "
              + what
              + " of a "
              + a.rows
              + "x"
              + a.cols
              + " matrix: LAPACK "
              + routine
              + " did not converge (info="
              + info.val
              + "). Check the input for extreme values.");
    }
  }

  private static void requireFinite(Matrix a, String what) {
    for (int idx = 0; idx < a.data.length; idx++) {
      if (!Double.isFinite(a.data[idx])) {
        throw new IllegalArgumentException(
            "Cannot compute the "
                + what
                + " of a "
                + a.rows
                + "x"
                + a.cols
                + " matrix: entry ("
                + idx % a.rows
                + ", "
                + idx / a.rows
                + ") is "
                + a.data[idx]
                + ". Check the input tensors for NaN or infinity.");
      }
    }
  }
}
