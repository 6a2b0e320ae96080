package dev.knots.knots;

import dev.knots.linalg.Decompositions;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Svd;
import java.util.ArrayList;
import java.util.List;

/**
 * The contract for {@link Decompositions#thinSvd} applied to the dense stacked matrix, truncated at
 * the cutoff.
 */
class StackedThinSvdTest extends JointSvdContract {

  @Override
  Joint decompose(List<LoraFactors> tasks, Concat concat) {
    List<Matrix> oriented = tasks.stream().map(t -> concat.orient(t.delta())).toList();
    int width = oriented.get(0).cols;
    Svd svd = Decompositions.thinSvd(Matrix.hstack(oriented)).truncate(JointSvd.CUTOFF);
    Matrix us = svd.u().scaleColumns(svd.s());
    List<Matrix> updates = new ArrayList<>();
    Matrix summed = Matrix.zeros(svd.rank(), width);
    for (int i = 0; i < tasks.size(); i++) {
      Matrix block = svd.vt().columns(i * width, (i + 1) * width);
      updates.add(concat.orient(us.multiply(block)));
      summed = summed.plus(block);
    }
    return new Joint(svd.u(), svd.s(), svd.vt(), updates, concat.orient(us.multiply(summed)));
  }
}
