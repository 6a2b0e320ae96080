package dev.knots.plan;

/**
 * A module no path can align within the limits and budgets, or a forced path that cannot apply;
 * raised from headers alone, before any tensor is read or any Spark job starts.
 */
public final class PlanningException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public PlanningException(String message) {
    super(message);
  }
}
