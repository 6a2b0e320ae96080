package dev.knots.linalg;

import static dev.knots.linalg.TestMatrices.assertClose;
import static dev.knots.linalg.TestMatrices.assertOrthonormalColumns;
import static dev.knots.linalg.TestMatrices.gaussian;
import static dev.knots.linalg.TestMatrices.orthonormalColumns;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class QrTest {

  private final Random random = new Random(7L);

  @ParameterizedTest(name = "{0}x{1}")
  @CsvSource({"30, 7", "5, 12", "9, 9", "1, 1", "1, 6", "6, 1", "0, 4", "4, 0", "0, 0"})
  void factorsAnyShape(int m, int n) {
    Matrix a = gaussian(m, n, random);
    double[] before = a.data.clone();
    assertQr(a, Decompositions.thinQr(a), m + "x" + n);
    assertArrayEquals(before, a.data, "input unchanged");
  }

  @Test
  void factorsRankDeficientInput() {
    Matrix half = gaussian(20, 3, random);
    Matrix a = Matrix.hstack(List.of(half, half, Matrix.zeros(20, 2)));
    assertQr(a, Decompositions.thinQr(a), "duplicated and zero columns");
  }

  @ParameterizedTest(name = "condition number {0}")
  @CsvSource({"1e3", "1e6", "1e8", "1e10", "1e14"})
  void factorsTallIllConditionedInputToRoundingLevel(double condition) {
    // tall inputs may take CholeskyQR2, which is accurate only while the condition number is
    // moderate; beyond that the factorization must still meet the same tolerances
    int m = 400;
    int n = 24;
    double[] s = new double[n];
    for (int j = 0; j < n; j++) {
      s[j] = Math.pow(condition, -(double) j / (n - 1));
    }
    Matrix a =
        orthonormalColumns(m, n, random)
            .scaleColumns(s)
            .multiplyTranspose(orthonormalColumns(n, n, random));
    assertQr(a, Decompositions.thinQr(a), "cond " + condition);
  }

  @ParameterizedTest(name = "{0}x{1}")
  @CsvSource({"4096, 16", "30, 7", "5, 12", "1, 1", "0, 4", "4, 0"})
  void upperFactorAloneSatisfiesTheGramIdentity(int m, int n) {
    Matrix a = gaussian(m, n, random);
    Matrix r = Decompositions.qrUpper(a);
    int p = Math.min(m, n);
    assertEquals(p, r.rows, "R rows");
    assertEquals(n, r.cols, "R columns");
    double scale = Math.max(1, a.frobeniusNorm() * a.frobeniusNorm());
    assertClose(
        a.transposeMultiply(a), r.transposeMultiply(r), Tolerances.RECONSTRUCTION, scale, "R^T R");
    for (int j = 0; j < n; j++) {
      for (int i = j + 1; i < p; i++) {
        assertEquals(0.0, r.get(i, j), "R(" + i + ", " + j + ") below the diagonal");
      }
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"well conditioned", "condition 1e10", "rank deficient"})
  void upperFactorAloneHoldsForEveryTallInput(String kind) {
    // well-conditioned inputs take the Gramian's Cholesky factor, the others may fall back to
    // Householder; both must give R^T R = A^T A to rounding of ||A||^2
    int m = 300;
    int n = 12;
    Matrix a =
        switch (kind) {
          case "well conditioned" -> gaussian(m, n, random);
          case "condition 1e10" -> {
            double[] s = new double[n];
            for (int j = 0; j < n; j++) {
              s[j] = Math.pow(1e10, -(double) j / (n - 1));
            }
            yield orthonormalColumns(m, n, random).scaleColumns(s);
          }
          default -> {
            Matrix half = gaussian(m, n / 2, random);
            yield Matrix.hstack(List.of(half, half));
          }
        };
    Matrix r = Decompositions.qrUpper(a);
    double scale = a.frobeniusNorm() * a.frobeniusNorm();
    assertClose(
        a.transposeMultiply(a), r.transposeMultiply(r), Tolerances.RECONSTRUCTION, scale, kind);
  }

  @Test
  void rejectsNonFiniteInput() {
    Matrix a = gaussian(4, 3, random);
    a.set(2, 1, Double.POSITIVE_INFINITY);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Decompositions.thinQr(a));
    assertTrue(
        e.getMessage().contains("QR of a 4x3") && e.getMessage().contains("(2, 1)"),
        e.getMessage());
  }

  private static void assertQr(Matrix a, Qr qr, String what) {
    int p = Math.min(a.rows, a.cols);
    assertEquals(a.rows, qr.q().rows, what + ": Q rows");
    assertEquals(p, qr.q().cols, what + ": Q columns");
    assertEquals(p, qr.r().rows, what + ": R rows");
    assertEquals(a.cols, qr.r().cols, what + ": R columns");
    assertOrthonormalColumns(qr.q(), what);
    assertClose(
        a,
        qr.q().multiply(qr.r()),
        Tolerances.RECONSTRUCTION,
        a.frobeniusNorm(),
        what + ": Q R = A");
    for (int j = 0; j < qr.r().cols; j++) {
      for (int i = j + 1; i < qr.r().rows; i++) {
        assertEquals(0.0, qr.r().get(i, j), what + ": R(" + i + ", " + j + ") below the diagonal");
      }
    }
  }
}
