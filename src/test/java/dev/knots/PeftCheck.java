package dev.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs scripts/check_peft_adapter.py: real PEFT loads a merged adapter on the fixture base model
 * ({@code PeftModel.from_pretrained}) and must reproduce an expected merged update. Uses the Python
 * that {@code KNOTS_PEFT_PYTHON} names (scripts/test sets it up). Without it the calling test is
 * skipped, except in CI, where a missing interpreter is a failure.
 */
public final class PeftCheck {
  private static final String PYTHON = System.getenv("KNOTS_PEFT_PYTHON");

  private PeftCheck() {}

  /**
   * The interpreter of the project's Python environment (torch, peft, pandas, jupyter), for tests
   * that run its scripts; skips the calling test when there is none, except in CI, where that
   * fails.
   */
  public static String python() {
    if ("true".equals(System.getenv("CI"))) {
      assertTrue(PYTHON != null, "CI must run the Python checks: run the tests with scripts/test");
    }
    assumeTrue(PYTHON != null, "KNOTS_PEFT_PYTHON is not set; scripts/test sets it");
    return PYTHON;
  }

  /** Fails unless PEFT loads {@code adapter} and it carries {@code fixtures/expected/<file>}. */
  public static void assertPeftReproduces(Path adapter, String expectedFile)
      throws IOException, InterruptedException {
    Process check =
        new ProcessBuilder(
                List.of(
                    python(),
                    Path.of("scripts/check_peft_adapter.py").toAbsolutePath().toString(),
                    "--base",
                    Fixtures.path("base_model"),
                    "--adapter",
                    adapter.toString(),
                    "--expected",
                    Fixtures.path("expected/" + expectedFile)))
            .redirectErrorStream(true)
            .start();
    String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(check.waitFor(5, TimeUnit.MINUTES), "the PEFT check did not finish");
    assertEquals(0, check.exitValue(), "PEFT check failed:\n" + output);
    assertTrue(output.contains("OK "), output);
  }
}
