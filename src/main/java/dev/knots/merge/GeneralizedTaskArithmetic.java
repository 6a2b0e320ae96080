package dev.knots.merge;

/** The one merge method, configured: see {@link MergeMethod}. */
record GeneralizedTaskArithmetic(
    String name,
    String summary,
    String reference,
    boolean aligned,
    boolean dropsAndRescales,
    Combine combine)
    implements MergeMethod {

  @Override
  public String toString() {
    return name;
  }
}
