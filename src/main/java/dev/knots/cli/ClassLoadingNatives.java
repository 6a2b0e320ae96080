package dev.knots.cli;

import java.util.zip.CRC32;
import java.util.zip.Inflater;

/**
 * Initializes, on the calling thread, the two JDK classes that every class load from a jar needs
 * and whose static initializers load a native library: {@link CRC32} (JDK 17 checks each class's
 * bytes against the jar's checksum) and {@link Inflater}. {@link Main} does so before it starts any
 * thread.
 *
 * <p>Loading a JNI library holds the JVM's native-library lock while the library's loading loads
 * classes; netlib's BLAS does this in the first task to use it. A thread that initializes CRC32 or
 * Inflater at that moment, such as the one starting Spark, waits for the lock inside the
 * initializer, and the loading thread waits for the initializer: the JVM hangs. With the class-data
 * archive most classes come from the archive, so the first class read from a jar, and with it the
 * first CRC32, can come on any thread; a local merge hung this way once in about a hundred runs.
 */
final class ClassLoadingNatives {
  private ClassLoadingNatives() {}

  static void initialize() {
    new CRC32().update(0);
    new Inflater().end();
  }
}
