package dev.knots.linalg;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

/** Seeded random matrices and the assertions shared by the linalg and knots tests. */
public final class TestMatrices {

  private TestMatrices() {}

  /** A {@code rows x cols} matrix of independent standard normal entries. */
  public static Matrix gaussian(int rows, int cols, Random random) {
    Matrix m = Matrix.zeros(rows, cols);
    for (int i = 0; i < m.data.length; i++) {
      m.data[i] = random.nextGaussian();
    }
    return m;
  }

  /** A {@code rows x cols} matrix with orthonormal columns ({@code cols <= rows}). */
  public static Matrix orthonormalColumns(int rows, int cols, Random random) {
    return Decompositions.thinQr(gaussian(rows, cols, random)).q();
  }

  /** Entry-by-entry product, the reference for dgemm. */
  public static Matrix naiveProduct(Matrix a, Matrix b) {
    Matrix c = Matrix.zeros(a.rows, b.cols);
    for (int i = 0; i < a.rows; i++) {
      for (int j = 0; j < b.cols; j++) {
        double sum = 0.0;
        for (int l = 0; l < a.cols; l++) {
          sum += a.get(i, l) * b.get(l, j);
        }
        c.set(i, j, sum);
      }
    }
    return c;
  }

  /** Asserts {@code q^T q = I} entrywise within {@link Tolerances#ORTHONORMALITY}. */
  public static void assertOrthonormalColumns(Matrix q, String what) {
    Matrix gram = q.transposeMultiply(q);
    double err = gram.minus(Matrix.identity(q.cols)).maxAbs();
    assertTrue(
        err <= Tolerances.ORTHONORMALITY,
        what + ": columns of " + q + " are not orthonormal, max |Q^T Q - I| = " + err);
  }

  /**
   * Asserts {@code ||actual - expected||_F <= tolerance * scale}; a zero scale demands exact
   * equality.
   */
  public static void assertClose(
      Matrix expected, Matrix actual, double tolerance, double scale, String what) {
    assertEquals(expected.rows, actual.rows, what + ": rows");
    assertEquals(expected.cols, actual.cols, what + ": columns");
    double err = actual.minus(expected).frobeniusNorm();
    assertTrue(
        err <= tolerance * scale,
        what + ": ||actual - expected||_F = " + err + " exceeds " + tolerance + " * " + scale);
  }

  /** Asserts {@code s} is non-increasing. */
  public static void assertDescending(double[] s, String what) {
    for (int j = 1; j < s.length; j++) {
      assertTrue(
          s[j] <= s[j - 1],
          what + ": s[" + j + "] = " + s[j] + " > s[" + (j - 1) + "] = " + s[j - 1]);
    }
  }
}
