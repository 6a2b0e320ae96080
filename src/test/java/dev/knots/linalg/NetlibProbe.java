package dev.knots.linalg;

/**
 * Run in a fresh JVM by {@link NetlibTest}: the merge's linear algebra from two threads, as Spark's
 * tasks run it, and an explicit load, as the distributed alignment does before MLlib.
 */
public final class NetlibProbe {
  private NetlibProbe() {}

  public static void main(String[] args) throws InterruptedException {
    Runnable svd =
        () -> Decompositions.thinSvd(Matrix.fromRowMajor(3, 2, new double[] {1, 2, 3, 4, 5, 7}));
    Thread other = new Thread(svd, "probe-task");
    other.start();
    svd.run();
    other.join();
    Netlib.load();
    System.out.println(Netlib.blas().getClass().getSimpleName());
  }
}
