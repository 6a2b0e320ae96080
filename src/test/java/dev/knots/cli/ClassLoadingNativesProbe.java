package dev.knots.cli;

/**
 * Run in a fresh JVM by {@link ClassLoadingNativesTest}: {@code initialize} or {@code skip} {@link
 * ClassLoadingNatives#initialize}, then another thread loads a class from a jar, as the threads
 * that {@link Main} starts do.
 */
public final class ClassLoadingNativesProbe {
  private ClassLoadingNativesProbe() {}

  public static void main(String[] args) throws InterruptedException {
    if (args[0].equals("initialize")) {
      ClassLoadingNatives.initialize();
    }
    Thread thread =
        new Thread(
            () -> {
              try {
                Class.forName("scala.Some");
              } catch (ClassNotFoundException e) {
                throw new IllegalStateException(e);
              }
            },
            "probe-thread");
    thread.start();
    thread.join();
  }
}
