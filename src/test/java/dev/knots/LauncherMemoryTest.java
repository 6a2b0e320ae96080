package dev.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * scripts/lib/build.sh's knots_megabytes and knots_heap_flags, from which scripts/knots-merge sizes
 * the local driver's initial heap and young generation: a size they misread would start the JVM
 * with wrong flags, or none.
 */
class LauncherMemoryTest {
  @ParameterizedTest
  @CsvSource({
    "4g, 4096",
    "4G, 4096",
    "3072m, 3072",
    "512M, 512",
    "4194304k, 4096",
    "1t, 1048576",
    "1073741824, 1024",
    "4gb, ",
    "four, ",
    "-1g, ",
    "'', "
  })
  void readsTheJvmsMemorySizes(String size, String megabytes) throws Exception {
    Result bash = call("knots_megabytes", size);
    if (megabytes == null) {
      assertEquals(1, bash.exitValue(), "'" + size + "' is no size: " + bash.output());
      assertEquals("", bash.output(), size);
    } else {
      assertEquals(0, bash.exitValue(), bash.output());
      assertEquals(megabytes, bash.output().strip(), size);
    }
  }

  @ParameterizedTest
  @CsvSource({
    "4g, -Xms3072m -XX:MaxNewSize=256m",
    "64g, -Xms49152m -XX:MaxNewSize=4096m",
    "512m, -Xms384m -XX:MaxNewSize=64m",
    "four, "
  })
  void sizesTheHeapFromTheDriverMemory(String size, String flags) throws Exception {
    Result bash = call("knots_heap_flags", size);
    assertEquals(0, bash.exitValue(), bash.output());
    assertEquals(flags == null ? "" : flags, bash.output().strip(), size);
  }

  private record Result(int exitValue, String output) {}

  /** Runs {@code function} of scripts/lib/build.sh on {@code argument}. */
  private static Result call(String function, String argument) throws Exception {
    Process bash =
        new ProcessBuilder(
                "bash", "-c", ". scripts/lib/build.sh && " + function + " \"$1\"", "test", argument)
            .redirectErrorStream(true)
            .start();
    String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(bash.waitFor(30, TimeUnit.SECONDS), "bash did not exit");
    return new Result(bash.exitValue(), output);
  }
}
