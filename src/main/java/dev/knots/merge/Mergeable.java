package dev.knots.merge;

/** A per-module summary that combines associatively, so any engine can reduce it. */
public interface Mergeable<S extends Mergeable<S>> {

  /** Combines {@code other} into this summary and returns the result (possibly {@code this}). */
  S merge(S other);
}
