package dev.knots.linalg;

/**
 * Run in a fresh JVM by {@link NetlibTest}: prints whether netlib's pure-Java LAPACK still has its
 * machine constants to compute once the merge's linear algebra is loaded.
 */
public final class LapackConstantsProbe {
  private LapackConstantsProbe() {}

  public static void main(String[] args) {
    Netlib.load();
    System.out.println(Netlib.lapack().getClass().getSimpleName());
    System.out.println("constants pending: " + org.netlib.lapack.Dlamch.first);
  }
}
