package dev.knots.sweep;

import dev.knots.job.MergeRequest;

/**
 * One merge of a sweep: a point of the grid applied to a combination, as the merge it is (its
 * output is the point's directory, {@code <output>/points/<combination>/<point>}).
 */
public record SweepPoint(Combination combination, Point point, MergeRequest request) {

  /** {@code <combination>/<point>}, for messages and progress lines. */
  public String name() {
    return combination.id() + "/" + point.id();
  }
}
