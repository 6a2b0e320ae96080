package dev.knots.linalg;

import java.util.Objects;

/**
 * A thin QR factorization {@code A = q @ r} of an {@code m x n} matrix, {@code p = min(m, n)}:
 * {@code q} is {@code m x p} with orthonormal columns, {@code r} is {@code p x n} and
 * upper-trapezoidal (zero below the diagonal). Produced by {@link Decompositions#thinQr}.
 */
public record Qr(Matrix q, Matrix r) {

  /** Validates that {@code q.cols == r.rows}. */
  public Qr {
    Objects.requireNonNull(q, "q");
    Objects.requireNonNull(r, "r");
    if (q.cols != r.rows) {
      throw new IllegalArgumentException(
          "Cannot pair a "
              + q
              + " Q with a "
              + r
              + " R: Q has "
              + q.cols
              + " columns but R has "
              + r.rows
              + " rows.");
    }
  }
}
