package dev.knots.plan;

import java.io.Serializable;
import java.util.List;

/**
 * A floating tensor of full fine-tuned checkpoints that KnOTS cannot align, such as a norm scale or
 * a bias (a vector has no row space to share): it is merged entry-wise with the method's plain
 * counterpart, with its own top-K threshold and sign election.
 *
 * @param name the tensor name in the base model
 * @param deltas per task in order, where its change is
 */
public record PlainTensor(String name, List<TensorDelta> deltas) implements Serializable {

  public PlainTensor {
    deltas = List.copyOf(deltas);
  }
}
