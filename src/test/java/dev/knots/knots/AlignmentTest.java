package dev.knots.knots;

import static dev.knots.knots.TaskCases.randomLora;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.linalg.Matrix;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Shapes, orientation and input validation of {@link Alignment}, {@link JointSvd} and {@link
 * LoraFactors}.
 */
class AlignmentTest {

  private final Random random = new Random(31);

  @Test
  void outputOrientationSharesAnOutputBasis() {
    Alignment a =
        JointSvd.ofFactors(
            List.of(randomLora(12, 5, 2, random), randomLora(12, 5, 3, random)), Concat.OUTPUT);
    assertEquals(5, a.rank());
    assertEquals(12, a.u().rows, "U is O x k");
    assertEquals(5, a.representation(0).cols, "R_i is k x I");
    assertEquals(12, a.outFeatures());
    assertEquals(5, a.inFeatures());
    assertEquals(2, a.taskCount());
  }

  @Test
  void inputOrientationSharesAnInputBasisAndTransposesBack() {
    Alignment a =
        JointSvd.ofFactors(
            List.of(randomLora(12, 5, 2, random), randomLora(12, 5, 3, random)), Concat.INPUT);
    assertEquals(5, a.rank(), "min(I, 2 + 3)");
    assertEquals(5, a.u().rows, "U is I x k");
    assertEquals(12, a.representation(1).cols, "R_i is k x O");
    Matrix update = a.update(1);
    assertEquals(12, update.rows, "updates come back O x I");
    assertEquals(5, update.cols);
    assertEquals(12, a.outFeatures());
    assertEquals(5, a.inFeatures());
  }

  @ParameterizedTest
  @EnumSource(Concat.class)
  void rejectsTasksOfDifferentShapes(Concat concat) {
    List<LoraFactors> tasks = List.of(randomLora(8, 6, 2, random), randomLora(8, 7, 2, random));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> JointSvd.ofFactors(tasks, concat));
    assertTrue(
        e.getMessage().contains("task 1")
            && e.getMessage().contains("8x7")
            && e.getMessage().contains("8x6"),
        e.getMessage());
    IllegalArgumentException dense =
        assertThrows(
            IllegalArgumentException.class,
            () -> JointSvd.ofDense(TaskCases.deltas(tasks), concat));
    assertEquals(e.getMessage(), dense.getMessage(), "both paths report the same problem");
  }

  @Test
  void rejectsAnEmptyTaskList() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> JointSvd.ofFactors(List.of(), Concat.OUTPUT));
    assertTrue(e.getMessage().contains("empty list of tasks"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> JointSvd.ofDense(List.of(), Concat.INPUT));
  }

  @Test
  void reconstructRejectsAMisshapenRepresentation() {
    Alignment a = JointSvd.ofFactors(List.of(randomLora(9, 4, 2, random)), Concat.OUTPUT);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> a.reconstruct(Matrix.zeros(2, 9)));
    assertTrue(
        e.getMessage().contains("2x9") && e.getMessage().contains("expects 2x4"), e.getMessage());
  }

  @Test
  void representationsFromFactorsGiveTheSameFloatsAsTheirMatrices() {
    Random random = new Random(5);
    Alignment a =
        JointSvd.ofFactors(
            List.of(randomLora(40, 300, 3, random), randomLora(40, 300, 2, random)), Concat.OUTPUT);
    for (int task = 0; task < a.taskCount(); task++) {
      Representation r = a.representations().get(task);
      assertTrue(r.factorTransposed() != null, "LoRA representations stay factored");
      Matrix full = a.representation(task);
      float[] floats = r.toFloats();
      assertEquals(full.data.length, floats.length);
      for (int t = 0; t < floats.length; t++) {
        // both round the float64 product once; dgemm blocking may move it by one float32 ulp
        float want = (float) full.data[t];
        assertTrue(Math.abs(floats[t] - want) <= Math.ulp(want), "task " + task + " entry " + t);
      }
    }
  }

  @Test
  void alignmentRejectsInconsistentParts() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                new Alignment(
                    Concat.OUTPUT,
                    Matrix.zeros(5, 2),
                    new double[] {3, 1},
                    List.of(
                        Representation.of(Matrix.zeros(2, 4)),
                        new Representation(Matrix.zeros(2, 1), Matrix.zeros(3, 1)))));
    assertTrue(e.getMessage().contains("task 1"), e.getMessage());
  }

  @Test
  void loraFactorsValidateRankAndScale() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new LoraFactors(Matrix.zeros(8, 4), Matrix.zeros(6, 3), 1.0));
    assertTrue(e.getMessage().contains("8x4") && e.getMessage().contains("6x3"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> new LoraFactors(Matrix.zeros(8, 3), Matrix.zeros(6, 3), Double.NaN));
    LoraFactors zero = LoraFactors.zero(8, 6);
    assertEquals(0, zero.rank());
    assertEquals(0.0, zero.delta().maxAbs());
    assertEquals(8, zero.delta().rows);
    assertEquals(6, zero.transpose().outFeatures());
  }
}
