package dev.knots.merge;

import java.io.Serializable;

/**
 * One module's share of the data-free diagnostics of a merge (docs/merging.md): {@code ||dW||^2},
 * and per task {@code <dW, dW_i>} and {@code ||dW_i||^2}, with {@code dW_i} the task's update as
 * the merge reads it (before DARE and the scaling) and {@code dW} the merged update. Computed on
 * the representations: for KnOTS {@code dW_i = U R_i} with orthonormal {@code U}, so {@code <U R, U
 * R_i> = <R, R_i>} and no dense update is needed.
 */
public record ModuleDiagnostics(double mergedSquared, double[] dotWithTask, double[] taskSquared)
    implements Serializable {

  public ModuleDiagnostics {
    dotWithTask = dotWithTask.clone();
    taskSquared = taskSquared.clone();
  }

  /**
   * The sums of one module, {@code tasks[i]} the representation of task i and {@code merged}
   * theirs.
   */
  public static ModuleDiagnostics of(float[][] tasks, double[] merged) {
    double[] dot = new double[tasks.length];
    double[] squared = new double[tasks.length];
    for (int i = 0; i < tasks.length; i++) {
      dot[i] = dot(merged, tasks[i]);
      squared[i] = squared(tasks[i]);
    }
    return new ModuleDiagnostics(squared(merged), dot, squared);
  }

  // Four running sums each: the compiler keeps one floating-point sum in order, in one register,
  // so one sum waits on every addition. Four are the same terms in a fixed order, several times
  // faster.

  private static double dot(double[] merged, float[] task) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int j = 0;
    for (; j + 3 < task.length; j += 4) {
      s0 += merged[j] * task[j];
      s1 += merged[j + 1] * task[j + 1];
      s2 += merged[j + 2] * task[j + 2];
      s3 += merged[j + 3] * task[j + 3];
    }
    for (; j < task.length; j++) {
      s0 += merged[j] * task[j];
    }
    return (s0 + s1) + (s2 + s3);
  }

  private static double squared(float[] task) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int j = 0;
    for (; j + 3 < task.length; j += 4) {
      s0 += (double) task[j] * task[j];
      s1 += (double) task[j + 1] * task[j + 1];
      s2 += (double) task[j + 2] * task[j + 2];
      s3 += (double) task[j + 3] * task[j + 3];
    }
    for (; j < task.length; j++) {
      s0 += (double) task[j] * task[j];
    }
    return (s0 + s1) + (s2 + s3);
  }

  private static double squared(double[] merged) {
    double s0 = 0;
    double s1 = 0;
    double s2 = 0;
    double s3 = 0;
    int j = 0;
    for (; j + 3 < merged.length; j += 4) {
      s0 += merged[j] * merged[j];
      s1 += merged[j + 1] * merged[j + 1];
      s2 += merged[j + 2] * merged[j + 2];
      s3 += merged[j + 3] * merged[j + 3];
    }
    for (; j < merged.length; j++) {
      s0 += merged[j] * merged[j];
    }
    return (s0 + s1) + (s2 + s3);
  }

  /** Nothing yet, for {@code taskCount} tasks: the start of a sum over modules. */
  public static ModuleDiagnostics zero(int taskCount) {
    return new ModuleDiagnostics(0, new double[taskCount], new double[taskCount]);
  }

  public ModuleDiagnostics plus(ModuleDiagnostics other) {
    double[] dot = dotWithTask.clone();
    double[] squared = taskSquared.clone();
    for (int i = 0; i < dot.length; i++) {
      dot[i] += other.dotWithTask[i];
      squared[i] += other.taskSquared[i];
    }
    return new ModuleDiagnostics(mergedSquared + other.mergedSquared, dot, squared);
  }

  /** {@code sqrt(sum ||dW||^2)}, over the modules summed into this. */
  public double mergedNorm() {
    return Math.sqrt(mergedSquared);
  }

  /**
   * Per task, {@code sum <dW, dW_i> / sum ||dW_i||^2} over the modules summed into this: how much
   * of the task's update the merge keeps (1 for the task alone); NaN for a task that changes
   * nothing.
   */
  public double[] retention() {
    double[] retention = new double[dotWithTask.length];
    for (int i = 0; i < retention.length; i++) {
      retention[i] = taskSquared[i] == 0 ? Double.NaN : dotWithTask[i] / taskSquared[i];
    }
    return retention;
  }
}
