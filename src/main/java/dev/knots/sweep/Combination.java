package dev.knots.sweep;

import java.util.List;

/**
 * Inputs of the pool merged together, in merge order.
 *
 * @param id {@code all}, the names joined with {@code +}, or a hash of them when that is long
 */
public record Combination(String id, List<String> names) {

  public Combination {
    names = List.copyOf(names);
  }
}
