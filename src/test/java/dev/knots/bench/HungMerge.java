package dev.knots.bench;

/** A merge that never ends, for {@link MergeBenchmarkTest}: a JVM whose main thread sleeps. */
public final class HungMerge {
  private HungMerge() {}

  public static void main(String[] args) throws InterruptedException {
    System.out.println("hung merge started");
    Thread.sleep(600_000);
  }
}
