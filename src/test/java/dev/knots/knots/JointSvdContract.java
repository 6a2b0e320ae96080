package dev.knots.knots;

import static dev.knots.knots.TaskCases.randomLora;
import static dev.knots.linalg.TestMatrices.assertClose;
import static dev.knots.linalg.TestMatrices.assertDescending;
import static dev.knots.linalg.TestMatrices.assertOrthonormalColumns;
import static dev.knots.linalg.TestMatrices.gaussian;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.linalg.Matrix;
import dev.knots.linalg.Tolerances;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The contract every joint-SVD path meets, run by one subclass per path. It checks what is unique
 * about an SVD: the number of kept components, the singular values, reconstruction of the stacked
 * matrix and of every task, and orthonormality of U and of the stacked V rows; never the entries of
 * U or V, which are defined only up to sign.
 */
abstract class JointSvdContract {

  /**
   * A path's answer in the oriented frame of {@code concat}: {@code u} (stacked x k), {@code s},
   * {@code vt} ({@code k x n*width}, the tasks' blocks side by side), every task's {@code O x I}
   * update, and the {@code O x I} update of the summed representations.
   */
  record Joint(Matrix u, double[] s, Matrix vt, List<Matrix> updates, Matrix summedUpdate) {

    /** Reads an alignment, recovering {@code V_i^T = diag(1/s) R_i}. */
    static Joint of(Alignment alignment) {
      double[] inverse = new double[alignment.rank()];
      for (int j = 0; j < inverse.length; j++) {
        inverse[j] = 1.0 / alignment.s()[j];
      }
      List<Matrix> blocks = new ArrayList<>();
      List<Matrix> updates = new ArrayList<>();
      Matrix sum = Matrix.zeros(alignment.rank(), alignment.representation(0).cols);
      for (int i = 0; i < alignment.taskCount(); i++) {
        Matrix r = alignment.representation(i);
        blocks.add(r.scaleRows(inverse));
        updates.add(alignment.update(i));
        sum = sum.plus(r);
      }
      return new Joint(
          alignment.u(), alignment.s(), Matrix.hstack(blocks), updates, alignment.reconstruct(sum));
    }
  }

  /** Runs the path under test. */
  abstract Joint decompose(List<LoraFactors> tasks, Concat concat);

  @ParameterizedTest
  @EnumSource(Concat.class)
  void noOutputFeatures(Concat concat) {
    Random random = new Random(1);
    assertContract(TaskCases.random("O = 0", 0, 5, 2, 3, random), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void noInputFeatures(Concat concat) {
    Random random = new Random(2);
    assertContract(TaskCases.random("I = 0", 6, 0, 2, 3, random), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void rankZeroTasks(Concat concat) {
    List<LoraFactors> tasks =
        List.of(LoraFactors.zero(7, 5), LoraFactors.zero(7, 5), LoraFactors.zero(7, 5));
    assertContract(TaskCases.generic("three rank-0 tasks", tasks), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void allZeroUpdates(Concat concat) {
    Random random = new Random(3);
    LoraFactors zeroA = new LoraFactors(gaussian(8, 2, random), Matrix.zeros(6, 2), 2.0);
    LoraFactors zeroScale = new LoraFactors(gaussian(8, 3, random), gaussian(6, 3, random), 0.0);
    List<LoraFactors> tasks = List.of(zeroA, zeroScale);
    assertContract(
        new TaskCases("zero A, zero scale", tasks, TaskCases.deltas(tasks), 0, 0, null), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void rankOne(Concat concat) {
    assertContract(TaskCases.random("one rank-1 task", 9, 7, 1, 1, new Random(4)), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void identicalAdaptersAddNoRank(Concat concat) {
    LoraFactors t = randomLora(10, 8, 3, new Random(5));
    List<LoraFactors> tasks = List.of(t, t);
    assertContract(
        new TaskCases("two identical rank-3 tasks", tasks, TaskCases.deltas(tasks), 3, 3, null),
        concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void wide(Concat concat) {
    assertContract(TaskCases.random("6x30, 3 tasks of rank 4", 6, 30, 3, 4, new Random(6)), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void tall(Concat concat) {
    assertContract(TaskCases.random("40x5, 2 tasks of rank 3", 40, 5, 2, 3, new Random(7)), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void moreStackedRanksThanOutputs(Concat concat) {
    assertContract(TaskCases.random("S = 20 > O = 10", 10, 30, 4, 5, new Random(8)), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void rankAboveInputFeatures(Concat concat) {
    assertContract(TaskCases.random("r = 5 > I = 3", 20, 3, 2, 5, new Random(9)), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void mixedRanksIncludingRankZero(Concat concat) {
    Random random = new Random(10);
    List<LoraFactors> tasks =
        List.of(
            randomLora(12, 9, 4, random),
            LoraFactors.zero(12, 9),
            randomLora(12, 9, 2, random),
            randomLora(12, 9, 16, random));
    assertContract(TaskCases.generic("ranks 4, 0, 2, 16", tasks), concat);
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void tinyScaleKeepsExactlyTheValuesAboveTheCutoff(Concat concat) {
    // entries about 1e-3; values either side of 1e-5, the closest 20 % away from it
    double[][] sigmas = {{4e-3, 1.3e-5, 8e-6, 1e-7}, {2e-3, 1.2e-5, 5e-6}};
    TaskCases c =
        TaskCases.designed("tiny scale", 14, 11, 2.0, sigmas, JointSvd.CUTOFF, new Random(12));
    assertEquals(4, c.rank(concat));
    Joint joint = assertContract(c, concat);
    for (int j = 0; j < c.keptValues().length; j++) {
      assertEquals(
          c.keptValues()[j],
          joint.s()[j],
          Tolerances.DESIGNED_SINGULAR_VALUES * c.keptValues()[0],
          "s[" + j + "]");
    }
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void randomShapes(Concat concat) {
    Random random = new Random(20261126L);
    for (int trial = 0; trial < 12; trial++) {
      int out = 1 + random.nextInt(40);
      int in = 1 + random.nextInt(40);
      int n = 1 + random.nextInt(5);
      List<LoraFactors> tasks = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        tasks.add(randomLora(out, in, random.nextInt(13), random));
      }
      assertContract(
          TaskCases.generic("trial " + trial + ": " + out + "x" + in + ", " + n + " tasks", tasks),
          concat);
    }
  }

  /** Checks every property of the contract and returns the path's answer. */
  final Joint assertContract(TaskCases c, Concat concat) {
    String what = c.name() + " / " + concat;
    Joint joint = decompose(c.tasks(), concat);
    List<Matrix> oriented = c.keptUpdates().stream().map(concat::orient).toList();
    Matrix m = Matrix.hstack(oriented);
    double scale = m.frobeniusNorm();
    int k = c.rank(concat);

    assertEquals(k, joint.s().length, what + ": number of kept components");
    assertEquals(m.rows, joint.u().rows, what + ": U rows");
    assertEquals(k, joint.u().cols, what + ": U columns");
    assertEquals(k, joint.vt().rows, what + ": V^T rows");
    assertEquals(m.cols, joint.vt().cols, what + ": V^T columns");
    assertDescending(joint.s(), what);
    for (double value : joint.s()) {
      assertTrue(value > JointSvd.CUTOFF, what + ": kept singular value " + value + " <= cutoff");
    }
    assertOrthonormalColumns(joint.u(), what + ": U");
    assertOrthonormalColumns(joint.vt().transpose(), what + ": stacked V");

    Matrix rebuilt = joint.u().scaleColumns(joint.s()).multiply(joint.vt());
    assertClose(m, rebuilt, Tolerances.RECONSTRUCTION, scale, what + ": U diag(s) V^T = M");
    assertEquals(c.tasks().size(), joint.updates().size(), what + ": one update per task");
    Matrix sum = Matrix.zeros(c.tasks().get(0).outFeatures(), c.tasks().get(0).inFeatures());
    for (int i = 0; i < c.tasks().size(); i++) {
      assertClose(
          c.keptUpdates().get(i),
          joint.updates().get(i),
          Tolerances.RECONSTRUCTION,
          scale,
          what + ": update of task " + i);
      sum = sum.plus(c.keptUpdates().get(i));
    }
    assertClose(
        sum,
        joint.summedUpdate(),
        Tolerances.RECONSTRUCTION * c.tasks().size(),
        scale,
        what + ": update of the summed representations = sum of updates");
    return joint;
  }
}
