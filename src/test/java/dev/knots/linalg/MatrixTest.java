package dev.knots.linalg;

import static dev.knots.linalg.TestMatrices.assertClose;
import static dev.knots.linalg.TestMatrices.gaussian;
import static dev.knots.linalg.TestMatrices.naiveProduct;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MatrixTest {

  private final Random random = new Random(20261126L);

  @Test
  void rowMajorValuesLandInColumnMajorData() {
    Matrix m = Matrix.fromRowMajor(2, 3, new double[] {1, 2, 3, 4, 5, 6});
    assertEquals(2, m.rows);
    assertEquals(3, m.cols);
    assertEquals(6.0, m.get(1, 2));
    assertEquals(2.0, m.get(0, 1));
    assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, m.data, "column-major layout");
    assertArrayEquals(new double[] {1, 2, 3, 4, 5, 6}, m.toRowMajor(), "round trip");
  }

  @Test
  void transposeOfRowMajorWrapsTheArray() {
    double[] values = {1, 2, 3, 4, 5, 6};
    Matrix t = Matrix.transposeOfRowMajor(2, 3, values);
    assertEquals(3, t.rows);
    assertEquals(2, t.cols);
    assertEquals(6.0, t.get(2, 1));
    assertEquals(2.0, t.get(1, 0));
    assertSame(values, t.data, "not copied");
    assertThrows(IllegalArgumentException.class, () -> Matrix.transposeOfRowMajor(4, 2, values));
    assertThrows(IllegalArgumentException.class, () -> Matrix.transposeOfRowMajor(-2, -3, values));
  }

  @Test
  void transposeOfTallAndWideMatricesAcrossTiles() {
    // 70 spans three 32-wide tiles; the tall and the wide shape take different loop orders
    for (int[] shape : new int[][] {{70, 5}, {5, 70}, {70, 70}, {1, 1}}) {
      Matrix m = gaussian(shape[0], shape[1], random);
      Matrix t = m.transpose();
      double[] rowMajor = m.toRowMajor();
      for (int i = 0; i < m.rows; i++) {
        for (int j = 0; j < m.cols; j++) {
          assertEquals(m.get(i, j), t.get(j, i), shape[0] + "x" + shape[1]);
          assertEquals(m.get(i, j), rowMajor[i * m.cols + j], shape[0] + "x" + shape[1]);
        }
      }
    }
  }

  @Test
  void constructorRejectsWrongLength() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new Matrix(2, 3, new double[5]));
    assertTrue(
        e.getMessage().contains("2x3") && e.getMessage().contains("5 values"), e.getMessage());
  }

  @Test
  void productsMatchTheNaiveLoop() {
    Matrix a = gaussian(7, 5, random);
    Matrix b = gaussian(5, 4, random);
    Matrix expected = naiveProduct(a, b);
    double scale = a.frobeniusNorm() * b.frobeniusNorm();
    assertClose(expected, a.multiply(b), Tolerances.ARITHMETIC, scale, "A B");
    assertClose(
        expected, a.transpose().transposeMultiply(b), Tolerances.ARITHMETIC, scale, "(A^T)^T B");
    assertClose(
        expected, a.multiplyTranspose(b.transpose()), Tolerances.ARITHMETIC, scale, "A (B^T)^T");
  }

  @Test
  void productWithTransposeToFloatsIsTheFloat64ProductRoundedOnce() {
    // 300 rows make a 109-column block, so 250 columns take three blocks, the last one partial
    Matrix a = gaussian(300, 16, random);
    Matrix b = gaussian(250, 16, random);
    Matrix expected = naiveProduct(a, b.transpose());
    float[] product = a.multiplyTransposeToFloats(b);
    assertEquals(expected.data.length, product.length);
    for (int t = 0; t < product.length; t++) {
      // dgemm and the naive loop may differ by float64 rounding, which a float32 rounding can
      // turn into at most one float32 ulp; an entry from the wrong block would be far off
      float want = (float) expected.data[t];
      assertTrue(
          Math.abs(product[t] - want) <= Math.ulp(want),
          "entry " + t + ": " + product[t] + " vs " + want);
    }
    float[] empty = Matrix.zeros(3, 0).multiplyTransposeToFloats(Matrix.zeros(4, 0));
    assertArrayEquals(new float[12], empty, "an empty inner dimension gives zeros");
    assertThrows(IllegalArgumentException.class, () -> a.multiplyTransposeToFloats(a.transpose()));
  }

  @Test
  void productsWithEmptyDimensions() {
    Matrix inner = Matrix.zeros(3, 0).multiply(Matrix.zeros(0, 4));
    assertEquals(3, inner.rows);
    assertEquals(4, inner.cols);
    assertEquals(0.0, inner.maxAbs(), "an empty inner dimension gives zeros");
    Matrix noRows = Matrix.zeros(0, 5).multiply(gaussian(5, 2, random));
    assertEquals(0, noRows.rows);
    assertEquals(2, noRows.cols);
    assertEquals(0, gaussian(3, 2, random).transposeMultiply(Matrix.zeros(3, 0)).cols);
  }

  @Test
  void productRejectsMismatchedShapes() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Matrix.zeros(2, 3).multiply(Matrix.zeros(4, 2)));
    assertTrue(e.getMessage().contains("2x3") && e.getMessage().contains("4x2"), e.getMessage());
  }

  @Test
  void transposeSwapsIndices() {
    Matrix a = gaussian(4, 3, random);
    Matrix t = a.transpose();
    assertEquals(3, t.rows);
    for (int i = 0; i < 4; i++) {
      for (int j = 0; j < 3; j++) {
        assertEquals(a.get(i, j), t.get(j, i));
      }
    }
    assertEquals(0, Matrix.zeros(0, 3).transpose().cols);
  }

  @Test
  void elementwiseOperationsLeaveOperandsUnchanged() {
    Matrix a = Matrix.fromRowMajor(2, 2, new double[] {1, 2, 3, 4});
    Matrix b = Matrix.fromRowMajor(2, 2, new double[] {10, 20, 30, 40});
    assertArrayEquals(new double[] {2, 4, 6, 8}, a.scale(2).toRowMajor());
    assertArrayEquals(new double[] {11, 22, 33, 44}, a.plus(b).toRowMajor());
    assertArrayEquals(new double[] {9, 18, 27, 36}, b.minus(a).toRowMajor());
    assertArrayEquals(new double[] {1, 2, 30, 40}, a.scaleRows(new double[] {1, 10}).toRowMajor());
    assertArrayEquals(
        new double[] {1, 20, 3, 40}, a.scaleColumns(new double[] {1, 10}).toRowMajor());
    assertArrayEquals(new double[] {1, 2, 3, 4}, a.toRowMajor(), "operand unchanged");
    assertThrows(IllegalArgumentException.class, () -> a.scaleRows(new double[3]));
    assertThrows(IllegalArgumentException.class, () -> a.plus(Matrix.zeros(2, 3)));
  }

  @Test
  void slicesAndHstackRoundTrip() {
    Matrix a = gaussian(5, 7, random);
    Matrix left = a.columns(0, 3);
    Matrix empty = a.columns(3, 3);
    Matrix right = a.columns(3, 7);
    assertEquals(0, empty.cols);
    assertArrayEquals(a.data, Matrix.hstack(List.of(left, empty, right)).data);

    Matrix top = a.rowRange(0, 2);
    Matrix bottom = a.rowRange(2, 5);
    assertEquals(a.get(3, 6), bottom.get(1, 6));
    assertEquals(a.get(1, 6), top.get(1, 6));
    assertEquals(0, a.rowRange(2, 2).rows);

    assertThrows(IndexOutOfBoundsException.class, () -> a.columns(2, 8));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Matrix.hstack(List.of(a, Matrix.zeros(4, 1))));
    assertTrue(e.getMessage().contains("row counts differ"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Matrix.hstack(List.of()));
  }

  @Test
  void normsAreScaledAndHandleEmpty() {
    Matrix a = Matrix.fromRowMajor(1, 2, new double[] {3, -4});
    assertEquals(5.0, a.frobeniusNorm(), 1e-15);
    assertEquals(4.0, a.maxAbs());
    assertEquals(5e200, a.scale(1e200).frobeniusNorm(), 1e186, "no overflow");
    assertEquals(5e-200, a.scale(1e-200).frobeniusNorm(), 1e-214, "no underflow");
    assertEquals(0.0, Matrix.zeros(0, 3).frobeniusNorm());
    assertTrue(Double.isNaN(Matrix.fromRowMajor(1, 2, new double[] {1, Double.NaN}).maxAbs()));
  }

  @Test
  void identityAndZeros() {
    Matrix i3 = Matrix.identity(3);
    assertEquals(1.0, i3.get(2, 2));
    assertEquals(0.0, i3.get(0, 2));
    assertEquals(0, Matrix.identity(0).data.length);
    assertThrows(IllegalArgumentException.class, () -> Matrix.zeros(-1, 2));
  }
}
