package dev.knots.linalg;

import java.util.Random;

/**
 * Run in a fresh JVM by {@link NetlibTest}: names the BLAS and LAPACK that loaded, then prints the
 * thin SVD of a fixed 60 x 30 matrix with singular values 2^-i (gaps wide enough that every
 * singular vector is well determined): the singular values, then the rank-5 reconstruction, which
 * does not depend on the singular vectors' signs; one value per line, exactly.
 */
public final class SvdProbe {
  static final int RANK = 5;

  private SvdProbe() {}

  public static void main(String[] args) {
    Random random = new Random(16);
    int n = 30;
    double[] design = new double[n];
    for (int i = 0; i < n; i++) {
      design[i] = Math.pow(2, -i);
    }
    Matrix a =
        TestMatrices.orthonormalColumns(60, n, random)
            .scaleColumns(design)
            .multiplyTranspose(TestMatrices.orthonormalColumns(n, n, random));
    Svd svd = Decompositions.thinSvd(a);
    System.out.println(Netlib.blas().getClass().getSimpleName());
    System.out.println(Netlib.lapack().getClass().getSimpleName());
    for (double s : svd.s()) {
      System.out.println(s);
    }
    double[] top = new double[RANK];
    System.arraycopy(svd.s(), 0, top, 0, RANK);
    Matrix reconstruction =
        svd.u().columns(0, RANK).scaleColumns(top).multiply(svd.vt().rowRange(0, RANK));
    for (double v : reconstruction.data) {
      System.out.println(v);
    }
  }
}
