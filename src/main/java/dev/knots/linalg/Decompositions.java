package dev.knots.linalg;

import dev.ludovic.netlib.blas.BLAS;
import dev.ludovic.netlib.lapack.LAPACK;
import java.util.Arrays;
import org.netlib.util.doubleW;
import org.netlib.util.intW;

/**
 * Thin QR and SVD in float64 through dev.ludovic.netlib BLAS and LAPACK (native OpenBLAS when it
 * can be loaded, otherwise its pure-Java fallback). Inputs are never modified: LAPACK works on
 * copies.
 */
public final class Decompositions {

  private static final BLAS BLAS_ = Netlib.blas();
  private static final LAPACK LAPACK_ = Netlib.lapack();

  private Decompositions() {}

  /**
   * CholeskyQR2 is used only when the first Cholesky factor's reciprocal condition estimate is at
   * least this: its orthogonality is then at rounding level (Yamamoto et al. 2015 need {@code
   * cond(A)} well below {@code eps^-1/2 ~ 7e7}; the 1-norm estimate is within a factor of {@code n}
   * of the 2-norm condition).
   */
  private static final double CHOLESKY_QR_MIN_RCOND = 1e-5;

  /**
   * Thin QR {@code A = Q @ R}. For {@code A} of shape {@code m x n} and {@code p = min(m, n)}:
   * {@code Q} is {@code m x p} with orthonormal columns and {@code R} is {@code p x n},
   * upper-trapezoidal with exact zeros below the diagonal. The diagonal of {@code R} may be
   * negative. Float64; {@code a} is not modified. An empty {@code a} gives {@code Q} {@code m x 0}
   * and {@code R} {@code 0 x n}.
   *
   * <p>A tall, well-conditioned {@code A} (the stacked LoRA factors of a module) takes CholeskyQR2:
   * two rounds of {@code R = chol(X^T X)}, {@code X := X R^-1}, all BLAS-3, about a third of the
   * time of Householder's panel factorization plus forming {@code Q}. Anything else, or a Cholesky
   * that fails or is too ill-conditioned to be accurate, takes Householder reflections (LAPACK
   * dgeqrf, then dorgqr), which are backward stable for every input.
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
    if (m >= 2 * n) {
      Qr fast = choleskyQr2(a);
      if (fast != null) {
        return fast;
      }
    }
    return householderQr(a);
  }

  /**
   * CholeskyQR2 of a tall {@code a}, or null when it would not be accurate (see {@link #thinQr}).
   */
  private static Qr choleskyQr2(Matrix a) {
    int m = a.rows;
    int n = a.cols;
    double[] r = gramCholesky(a.data, m, n, a);
    if (r == null || upperReciprocalCondition(r, n, a) < CHOLESKY_QR_MIN_RCOND) {
      return null;
    }
    double[] q = a.data.clone();
    BLAS_.dtrsm("R", "U", "N", "N", m, n, 1.0, r, n, q, m);
    // the second round restores orthogonality to rounding level; its R is close to the identity
    double[] correction = gramCholesky(q, m, n, a);
    if (correction == null) {
      return null;
    }
    BLAS_.dtrsm("R", "U", "N", "N", m, n, 1.0, correction, n, q, m);
    BLAS_.dtrmm("L", "U", "N", "N", n, n, 1.0, correction, n, r, n);
    return new Qr(new Matrix(m, n, q), new Matrix(n, n, r));
  }

  /**
   * The upper Cholesky factor of {@code x^T x} for column-major {@code m x n} {@code x}, with exact
   * zeros below the diagonal, or null if rounding leaves the Gramian not positive definite.
   */
  private static double[] gramCholesky(double[] x, int m, int n, Matrix original) {
    double[] g = new double[n * n];
    BLAS_.dsyrk("U", "T", n, m, 1.0, x, m, 0.0, g, n);
    intW info = new intW(0);
    LAPACK_.dpotrf("U", n, g, n, info);
    if (info.val > 0) {
      return null;
    }
    check("dpotrf", info, original, "QR");
    return g;
  }

  /** LAPACK's estimate of the reciprocal 1-norm condition number of an upper-triangular matrix. */
  private static double upperReciprocalCondition(double[] r, int n, Matrix original) {
    doubleW rcond = new doubleW(0);
    intW info = new intW(0);
    LAPACK_.dtrcon("1", "U", "N", n, r, n, rcond, new double[3 * n], new int[n], info);
    check("dtrcon", info, original, "QR");
    return rcond.val;
  }

  private static Qr householderQr(Matrix a) {
    int m = a.rows;
    int n = a.cols;
    int p = Math.min(m, n);
    Householder h = householder(a);
    // the first p columns hold the reflectors that dorgqr turns into Q
    double[] q = Arrays.copyOf(h.factored(), m * p);
    intW info = new intW(0);
    double[] query = new double[1];
    LAPACK_.dorgqr(m, p, p, q, m, h.tau(), query, -1, info);
    check("dorgqr", info, a, "QR");
    double[] work = new double[workspace(query)];
    LAPACK_.dorgqr(m, p, p, q, m, h.tau(), work, work.length, info);
    check("dorgqr", info, a, "QR");
    return new Qr(new Matrix(m, p, q), upperOf(h, m, n));
  }

  /** dgeqrf's output: R on and above the diagonal, the reflectors below, and their scales. */
  private record Householder(double[] factored, double[] tau) {}

  private static Householder householder(Matrix a) {
    int m = a.rows;
    int n = a.cols;
    double[] f = a.data.clone();
    double[] tau = new double[Math.min(m, n)];
    intW info = new intW(0);
    double[] query = new double[1];
    LAPACK_.dgeqrf(m, n, f, m, tau, query, -1, info);
    check("dgeqrf", info, a, "QR");
    double[] work = new double[workspace(query)];
    LAPACK_.dgeqrf(m, n, f, m, tau, work, work.length, info);
    check("dgeqrf", info, a, "QR");
    return new Householder(f, tau);
  }

  /** R: the upper triangle of the first {@code p} rows; everything below stays exactly 0. */
  private static Matrix upperOf(Householder h, int m, int n) {
    int p = Math.min(m, n);
    Matrix r = Matrix.zeros(p, n);
    for (int j = 0; j < n; j++) {
      int last = Math.min(j, p - 1);
      for (int i = 0; i <= last; i++) {
        r.data[i + j * p] = h.factored()[i + j * m];
      }
    }
    return r;
  }

  /**
   * The {@code R} of a thin QR factorization {@code A = Q @ R}, without forming {@code Q}: for
   * {@code A} of shape {@code m x n} and {@code p = min(m, n)}, {@code R} is {@code p x n},
   * upper-trapezoidal with exact zeros below the diagonal, and {@code R^T @ R = A^T @ A}. Float64;
   * {@code a} is not modified.
   *
   * <p>A tall {@code A} whose Gramian is numerically positive definite takes the Cholesky factor of
   * {@code A^T A}: a tenth of the time of Householder's panel factorization for a LoRA factor, and
   * as accurate for what {@code R^T R} is used for, since both meet the Gramian to rounding of
   * {@code ||A||^2}. Anything else takes Householder reflections (LAPACK dgeqrf).
   *
   * @throws IllegalArgumentException if {@code a} has a NaN or infinite entry
   */
  public static Matrix qrUpper(Matrix a) {
    int m = a.rows;
    int n = a.cols;
    int p = Math.min(m, n);
    if (p == 0) {
      return Matrix.zeros(0, n);
    }
    requireFinite(a, "QR");
    if (m >= n) {
      double[] r = gramCholesky(a.data, m, n, a);
      if (r != null) {
        return new Matrix(n, n, r);
      }
    }
    return upperOf(householder(a), m, n);
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
