package dev.knots.knots;

import static dev.knots.linalg.TestMatrices.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.knots.linalg.Matrix;
import dev.knots.linalg.Tolerances;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** docs/merging.md: the factor and dense paths agree to rounding, in values and updates. */
class FactorDenseAgreementTest {

  @ParameterizedTest
  @EnumSource(Concat.class)
  void sameSingularValuesAndUpdates(Concat concat) {
    Random random = new Random(99);
    for (int trial = 0; trial < 10; trial++) {
      int out = 1 + random.nextInt(60);
      int in = 1 + random.nextInt(60);
      TaskCases c =
          TaskCases.random(
              "trial " + trial, out, in, 1 + random.nextInt(6), random.nextInt(17), random);
      assertAgree(c.name() + " " + out + "x" + in + " / " + concat, c.tasks(), concat);
    }
  }

  /**
   * Asserts that both paths keep the same components with the same values and reproduce the same
   * updates.
   */
  static void assertAgree(String what, List<LoraFactors> tasks, Concat concat) {
    Alignment factors = JointSvd.ofFactors(tasks, concat);
    Alignment dense = JointSvd.ofDense(TaskCases.deltas(tasks), concat);
    assertEquals(dense.rank(), factors.rank(), what + ": kept components");
    double sMax = dense.rank() == 0 ? 0.0 : dense.s()[0];
    for (int j = 0; j < dense.rank(); j++) {
      assertEquals(
          dense.s()[j], factors.s()[j], Tolerances.PATHS_AGREE * sMax, what + ": s[" + j + "]");
    }
    double scale = 0.0;
    for (int i = 0; i < tasks.size(); i++) {
      scale = Math.hypot(scale, dense.update(i).frobeniusNorm());
    }
    for (int i = 0; i < tasks.size(); i++) {
      Matrix expected = dense.update(i);
      assertClose(
          expected,
          factors.update(i),
          Tolerances.RECONSTRUCTION,
          scale,
          what + ": update of task " + i);
    }
  }
}
