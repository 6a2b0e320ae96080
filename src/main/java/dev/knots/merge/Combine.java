package dev.knots.merge;

/** How the kept task entries become one merged entry. */
public enum Combine {
  /** {@code sum_i lambda_i * x_i} over the kept entries. */
  SUM,
  /**
   * TIES: elect a sign per entry, then average {@code lambda_i * x_i} over the tasks that were kept
   * there and agree with the elected sign.
   */
  DISJOINT_MEAN
}
