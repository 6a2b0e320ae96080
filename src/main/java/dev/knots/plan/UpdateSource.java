package dev.knots.plan;

import dev.knots.io.FileStore;
import dev.knots.knots.TaskUpdate;
import dev.knots.linalg.Matrix;
import java.io.IOException;
import java.io.Serializable;

/**
 * Where one task's update of one module comes from, known from headers on the driver and small
 * enough to ship to whichever task reads it: LoRA factors in an adapter ({@link FactorSource}) or a
 * weight of a full fine-tuned checkpoint and of its base.
 */
public interface UpdateSource extends Serializable {

  /** The adapter or checkpoint directory the update comes from, for messages. */
  String origin();

  /** Bytes that reading the whole update fetches. */
  long byteLength();

  /**
   * An upper bound on the update's rank, which sizes the KnOTS work: the LoRA rank for factors,
   * {@code min(O, I)} for a dense update.
   */
  int rank();

  /** Whether {@link #read} returns LoRA factors, which the exact factor-space path needs. */
  boolean factored();

  /** Reads the whole update. Values are checked to be finite, naming the tensor otherwise. */
  TaskUpdate read(FileStore store) throws IOException;

  /**
   * Reads rows {@code [first, first + count)} of the dense update {@code dW} ({@code count x I}),
   * touching only what those rows need, so that a distributed path can split a module by rows.
   */
  Matrix readRows(FileStore store, int first, int count) throws IOException;
}
