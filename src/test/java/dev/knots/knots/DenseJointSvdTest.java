package dev.knots.knots;

import java.util.List;

/** The contract for {@link JointSvd#ofDense} on the tasks' dense updates. */
class DenseJointSvdTest extends JointSvdContract {

  @Override
  Joint decompose(List<LoraFactors> tasks, Concat concat) {
    return Joint.of(JointSvd.ofDense(TaskCases.deltas(tasks), concat));
  }
}
