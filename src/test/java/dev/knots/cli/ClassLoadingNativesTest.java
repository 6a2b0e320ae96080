package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Which thread initializes the JDK's native-loading classes of class loading, read from a fresh
 * JVM's {@code -Xlog:class+init} (each line tagged with its thread's id). The probe's own classes
 * come from directories, so nothing reads a jar before its second thread does, as under the local
 * launcher's class-data archive.
 */
class ClassLoadingNativesTest {
  private static final List<String> NATIVE_LOADING =
      List.of("java/util/zip/CRC32", "java/util/zip/Inflater");

  @Test
  void mainInitializesThemBeforeAnyOtherThreadReadsAJar() throws Exception {
    Map<String, String> threads = initializingThreads("initialize");
    String main = threads.get("java/lang/Object");
    for (String name : NATIVE_LOADING) {
      assertEquals(main, threads.get(name), name + " initialized off the main thread");
    }
    assertNotEquals(main, threads.get("scala/Some"), "the probe's second thread loaded no class");
  }

  /** Without it, the first thread to read a jar initializes them: the probe sees the hazard. */
  @Test
  void otherwiseTheFirstThreadToReadAJarInitializesThem() throws Exception {
    Map<String, String> threads = initializingThreads("skip");
    String reader = threads.get("scala/Some");
    assertNotEquals(threads.get("java/lang/Object"), reader);
    for (String name : NATIVE_LOADING) {
      assertEquals(reader, threads.get(name), name);
    }
  }

  /** Class (internal name) -> the id of the thread that initialized it, in a run of the probe. */
  private static Map<String, String> initializingThreads(String mode)
      throws IOException, InterruptedException {
    String classpath =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process process =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xlog:class+init=info:stdout:tid",
                "-cp",
                classpath,
                ClassLoadingNativesProbe.class.getName(),
                mode)
            .redirectErrorStream(true)
            .start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(process.waitFor(60, TimeUnit.SECONDS), "the probe did not end");
    assertEquals(0, process.exitValue(), output);
    Matcher line = Pattern.compile("\\[(\\d+)\\].* Initializing '([^']+)'").matcher(output);
    Map<String, String> threads = new HashMap<>();
    while (line.find()) {
      threads.putIfAbsent(line.group(2), line.group(1));
    }
    for (String name : List.of("java/lang/Object", "scala/Some", NATIVE_LOADING.get(0))) {
      assertTrue(threads.containsKey(name), name + " was never initialized:\n" + output);
    }
    return threads;
  }
}
