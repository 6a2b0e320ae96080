package dev.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * conf/compiler-directives.json, which scripts/knots-merge gives its JVM: a file the JVM cannot
 * parse stops it from starting, so every local merge would fail.
 */
class CompilerDirectivesTest {
  @Test
  void theJvmLoadsTheDirectivesWithTheMergesCodeFirst() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process jvm =
        new ProcessBuilder(
                java,
                "-XX:+UnlockDiagnosticVMOptions",
                "-XX:+DisplayVMOutputToStderr",
                "-XX:CompilerDirectivesFile=conf/compiler-directives.json",
                "-XX:+CompilerDirectivesPrint",
                "-version")
            .redirectErrorStream(true)
            .start();
    String output = new String(jvm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(jvm.waitFor(60, TimeUnit.SECONDS), "the JVM did not exit");
    assertEquals(0, jvm.exitValue(), output);
    assertTrue(output.contains("2 compiler directives added"), output);

    // The first match applies: the merge's own code must come before the exclusions.
    List<String> matching = output.lines().filter(l -> l.startsWith(" matching:")).toList();
    assertTrue(matching.get(0).contains("dev/knots/*.*"), output);
    assertTrue(matching.get(1).contains("java/*.*"), output);
    String excluding = output.substring(output.indexOf(matching.get(1)));
    String c2 = excluding.substring(excluding.indexOf("c2 directives:"));
    assertTrue(c2.lines().skip(2).findFirst().orElseThrow().contains("Exclude:true"), output);
  }
}
