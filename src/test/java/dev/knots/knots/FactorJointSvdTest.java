package dev.knots.knots;

import java.util.List;

/** The contract for {@link JointSvd#ofFactors}, the exact path that never forms a dense update. */
class FactorJointSvdTest extends JointSvdContract {

  @Override
  Joint decompose(List<LoraFactors> tasks, Concat concat) {
    return Joint.of(JointSvd.ofFactors(tasks, concat));
  }
}
