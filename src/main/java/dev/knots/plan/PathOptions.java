package dev.knots.plan;

import java.io.Serializable;
import java.util.Map;
import java.util.Optional;

/**
 * What the planner decides alignment paths with: a forced path (or auto) and the memory budgets of
 * one task and of the driver.
 */
public record PathOptions(Optional<AlignPath> forced, Budget task, Budget driver)
    implements Serializable {

  /** Auto, with the budgets of a Spark left at its defaults. */
  public static PathOptions defaults() {
    return PathRequest.auto().resolve(Map.of());
  }
}
