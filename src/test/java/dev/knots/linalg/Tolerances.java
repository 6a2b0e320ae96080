package dev.knots.linalg;

/**
 * Every numerical tolerance the linalg and knots tests use, with the reason for its size. Test
 * matrices have at most a few hundred rows or columns; float64 machine epsilon is 2.2e-16.
 */
public final class Tolerances {

  /**
   * {@code ||A - Q R||_F / ||A||_F} and {@code ||M - U diag(s) V^T||_F / ||M||_F} (also per task,
   * relative to {@code ||M||_F}). Householder QR and dgesdd are backward stable, so the error is a
   * small multiple of {@code sqrt(dim) * eps}, about 1e-14 here; 1e-12 leaves a 100x margin and
   * still catches any lost component (which costs far more than 1e-12).
   */
  public static final double RECONSTRUCTION = 1e-12;

  /**
   * {@code max |Q^T Q - I|} entrywise for Q, U and the stacked V: same argument as {@link
   * #RECONSTRUCTION}.
   */
  public static final double ORTHONORMALITY = 1e-12;

  /**
   * {@code ||dgemm result - naive triple loop||_F / (||A||_F ||B||_F)}: the two only differ in
   * summation order, at most {@code inner * eps}.
   */
  public static final double ARITHMETIC = 1e-13;

  /**
   * Singular values built into a test matrix vs computed, {@code |s - s_design| / s_max}: by Weyl's
   * inequality a backward-stable SVD moves each value by {@code O(eps * ||M||_2)}.
   */
  public static final double DESIGNED_SINGULAR_VALUES = 1e-12;

  /**
   * Factor path vs dense path, {@code |s_factor - s_dense| / s_max}: two different backward-stable
   * algorithms on the same matrix, each within {@code O(eps * s_max)} of the truth; 1e-10 is what
   * "the paths agree to rounding" of docs/merging.md is checked with.
   */
  public static final double PATHS_AGREE = 1e-10;

  /**
   * Singular values of the fixture's float32 delta files, computed by us, vs {@code
   * expected/knots_singular_values.safetensors}, {@code |s - s_expected| / s_max}: the expected
   * values are a float64 SVD of those same files, so only float64 rounding in two SVD
   * implementations separates them (observed 1.5e-15); 1e-9 leaves a margin of six orders. The
   * factor path, which never sees the float32 rounding, is held to a computed Weyl bound instead.
   */
  public static final double FIXTURE_SINGULAR_VALUES = 1e-9;

  private Tolerances() {}
}
