package dev.knots.linalg;

import static dev.knots.linalg.TestMatrices.assertClose;
import static dev.knots.linalg.TestMatrices.gaussian;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The {@link Svd} value and the input handling of {@link Decompositions#thinSvd}; the numerical
 * contract (reconstruction, orthogonality, shapes) is {@code dev.knots.knots.JointSvdContract},
 * which also runs against {@code thinSvd}.
 */
class SvdTest {

  private final Random random = new Random(11L);

  @Test
  void singularValuesOfAPermutedDiagonalComeOutSorted() {
    Matrix a =
        Matrix.fromRowMajor(
            3,
            4,
            new double[] {
              0, 2, 0, 0,
              5, 0, 0, 0,
              0, 0, 0, -3
            });
    Svd svd = Decompositions.thinSvd(a);
    assertArrayEquals(new double[] {5, 3, 2}, svd.s(), 1e-15);
    assertClose(a, svd.reconstruct(), Tolerances.RECONSTRUCTION, a.frobeniusNorm(), "reconstruct");
  }

  @Test
  void truncateKeepsValuesStrictlyAboveAnAbsoluteCutoff() {
    Matrix a =
        Matrix.fromRowMajor(
            4, 4, new double[] {1e-3, 0, 0, 0, 0, 1e-5, 0, 0, 0, 0, 2e-5, 0, 0, 0, 0, 5e-6});
    Svd svd = Decompositions.thinSvd(a);
    Svd kept = svd.truncate(1e-5);
    assertEquals(4, svd.rank());
    assertEquals(2, kept.rank(), "1e-3 and 2e-5 are > 1e-5; 1e-5 itself is not");
    assertEquals(4, kept.u().rows);
    assertEquals(2, kept.u().cols);
    assertEquals(2, kept.vt().rows);
    assertEquals(4, kept.vt().cols);
    assertSame(svd, svd.truncate(0.0), "nothing to drop");
    assertEquals(0, svd.truncate(1.0).rank());
    assertThrows(IllegalArgumentException.class, () -> svd.truncate(Double.NaN));
  }

  @Test
  void inputIsNotModified() {
    Matrix tall = gaussian(9, 4, random);
    Matrix wide = gaussian(4, 9, random);
    double[] tallBefore = tall.data.clone();
    double[] wideBefore = wide.data.clone();
    Decompositions.thinSvd(tall);
    Decompositions.thinSvd(wide);
    assertArrayEquals(tallBefore, tall.data);
    assertArrayEquals(wideBefore, wide.data);
  }

  @Test
  void rejectsNaNNamingTheEntry() {
    Matrix a = gaussian(3, 5, random);
    a.set(1, 4, Double.NaN);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Decompositions.thinSvd(a));
    assertTrue(
        e.getMessage().contains("SVD of a 3x5") && e.getMessage().contains("(1, 4)"),
        e.getMessage());
  }

  @Test
  void recordRejectsInconsistentShapes() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Svd(Matrix.zeros(4, 2), new double[3], Matrix.zeros(3, 5)));
    assertTrue(e.getMessage().contains("must agree"), e.getMessage());
  }
}
