package dev.knots.merge;

import java.io.Serializable;
import java.util.function.BiFunction;

/**
 * Where the prepared per-module vectors live (in this JVM, or spread over Spark executors) and how
 * to fold a summary over them. This is the one step of a merge that spans modules.
 */
public interface ModuleScan {

  /** A function the engine may ship to where the modules live. */
  interface Fold<S> extends BiFunction<S, ModuleVectors, S>, Serializable {}

  /**
   * Folds {@code add} over every module starting from copies of {@code zero}, and merges the
   * partial results.
   */
  <S extends Mergeable<S> & Serializable> S aggregate(S zero, Fold<S> add);
}
