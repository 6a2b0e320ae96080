package dev.knots.sweep;

import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.Scope;
import java.math.BigDecimal;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * One point of a sweep's grid: a method and its hyperparameters, one {@code scaling} for every
 * input. Keys that do not apply to the method are empty.
 *
 * @param dareDrop DARE's drop rate; dare methods only
 * @param seed DARE's seed; dare methods only
 * @param concat KnOTS' concatenation; knots methods only
 */
public record Point(
    MergeMethod method,
    double topK,
    double scaling,
    OptionalDouble dareDrop,
    OptionalLong seed,
    Scope scope,
    Optional<Concat> concat) {

  /**
   * {@code <method>_topk<k>_s<lambda>}, then {@code _drop<p>_seed<n>} for dare methods, {@code
   * _module} for module scope, {@code _concat-input} for input concatenation.
   */
  public String id() {
    StringBuilder id =
        new StringBuilder(method.name())
            .append("_topk")
            .append(plain(topK))
            .append("_s")
            .append(plain(scaling));
    if (dareDrop.isPresent()) {
      id.append("_drop").append(plain(dareDrop.getAsDouble()));
    }
    if (seed.isPresent()) {
      id.append("_seed").append(seed.getAsLong());
    }
    if (scope == Scope.MODULE) {
      id.append("_module");
    }
    if (concat.isPresent() && concat.get() == Concat.INPUT) {
      id.append("_concat-input");
    }
    return id.toString();
  }

  /** The merge's parameters at this point: one lambda for every input. */
  public MergeParameters parameters() {
    return new MergeParameters(
        topK,
        List.of(scaling),
        dareDrop.orElse(MergeParameters.DEFAULT_DARE_DROP),
        seed.orElse(MergeParameters.DEFAULT_SEED),
        scope);
  }

  /** A number as written, trailing zeros removed: 20 for 20.0, 0.6 for 0.60. */
  static String plain(double value) {
    return new BigDecimal(Double.toString(value)).stripTrailingZeros().toPlainString();
  }
}
