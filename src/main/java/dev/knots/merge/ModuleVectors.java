package dev.knots.merge;

import java.io.Serializable;

/**
 * The representations of every task for one module, flattened, all in one layout (the matrices'
 * column-major order): {@code tasks[i]} is {@code R_i} (KnOTS methods) or {@code dW_i} (plain
 * methods). All have the same length. Entries are float32, the precision of the reference
 * implementation and of the merged output: it halves the memory and bandwidth of the persisted
 * layers and of every statistics pass, while the joint SVD and all sums run in float64.
 */
public record ModuleVectors(String module, float[][] tasks) implements Serializable {

  public ModuleVectors {
    for (float[] task : tasks) {
      if (task.length != tasks[0].length) {
        throw new IllegalArgumentException(
            "Cannot merge module " + module + ": task vectors differ in length");
      }
    }
  }

  public int taskCount() {
    return tasks.length;
  }

  /** Entries per task. */
  public int length() {
    return tasks.length == 0 ? 0 : tasks[0].length;
  }
}
