package dev.knots.merge;

import java.io.Serializable;
import java.util.List;

/**
 * The hyperparameters of a merge, validated against their allowed ranges.
 *
 * @param topK percent of entries kept per task, in (0, 100]; 100 keeps everything
 * @param scaling the coefficients {@code lambda_i}: one for every task, or one per task
 * @param dareDrop DARE's drop rate {@code p} in [0, 1); only used by DARE methods
 * @param seed the seed DARE's masks derive from, with the task index and module name
 * @param scope whether TIES thresholds and the majority sign span all modules or one
 */
public record MergeParameters(
    double topK, List<Double> scaling, double dareDrop, long seed, Scope scope)
    implements Serializable {

  public static final double DEFAULT_TOP_K = 100.0;
  public static final double DEFAULT_SCALING = 1.0;
  public static final double DEFAULT_DARE_DROP = 0.5;
  public static final long DEFAULT_SEED = 0L;

  public MergeParameters {
    scaling = List.copyOf(scaling);
    if (!(topK > 0 && topK <= 100)) {
      throw new InvalidOptionException("--top-k", topK, "must be a percentage in (0, 100]");
    }
    if (scaling.isEmpty()) {
      throw new InvalidOptionException("--scaling", "(empty)", "give one value or one per adapter");
    }
    for (double lambda : scaling) {
      if (!(Math.abs(lambda) <= Float.MAX_VALUE)) {
        throw new InvalidOptionException(
            "--scaling",
            lambda,
            "every coefficient must be a finite number of magnitude at most "
                + Float.MAX_VALUE
                + ", float32's largest value: the merge holds the scaled updates in float32");
      }
    }
    if (!(dareDrop >= 0 && dareDrop < 1)) {
      throw new InvalidOptionException("--dare-drop", dareDrop, "must be in [0, 1)");
    }
    if (scope == null) {
      throw new InvalidOptionException("--scope", "(none)", "must be global or module");
    }
  }

  /** The defaults: keep everything, scaling 1, global scope. */
  public static MergeParameters defaults() {
    return new MergeParameters(
        DEFAULT_TOP_K, List.of(DEFAULT_SCALING), DEFAULT_DARE_DROP, DEFAULT_SEED, Scope.GLOBAL);
  }

  public MergeParameters withTopK(double value) {
    return new MergeParameters(value, scaling, dareDrop, seed, scope);
  }

  public MergeParameters withScaling(List<Double> values) {
    return new MergeParameters(topK, values, dareDrop, seed, scope);
  }

  public MergeParameters withDare(double drop, long dareSeed) {
    return new MergeParameters(topK, scaling, drop, dareSeed, scope);
  }

  public MergeParameters withScope(Scope value) {
    return new MergeParameters(topK, scaling, dareDrop, seed, value);
  }

  /** Fails unless the scaling list fits {@code taskCount} adapters. */
  public MergeParameters checkTaskCount(int taskCount) {
    if (scaling.size() != 1 && scaling.size() != taskCount) {
      throw new InvalidOptionException(
          "--scaling",
          scaling,
          "give one value, or exactly one per adapter (" + taskCount + " adapters)");
    }
    return this;
  }

  /** {@code lambda_i}. */
  public double scaling(int task) {
    return scaling.size() == 1 ? scaling.get(0) : scaling.get(task);
  }

  /** True when top-K removes anything, i.e. {@code topK < 100}. */
  public boolean prunes() {
    return topK < 100;
  }

  /** The fraction kept, {@code K = topK / 100} in float64 (docs/merging.md, step 2). */
  public double keepFraction() {
    return topK / 100.0;
  }
}
