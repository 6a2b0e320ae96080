package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.knots.Fixtures;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Our merged adapters load in real PEFT ({@code PeftModel.from_pretrained} on the fixture base
 * model) and carry the expected merged update: scripts/check_peft_adapter.py, run with the Python
 * that {@code KNOTS_PEFT_PYTHON} names (scripts/test sets it up). Without it the test is skipped,
 * except in CI, where a missing interpreter is a failure.
 */
class PeftInteropTest {
  private static final String PYTHON = System.getenv("KNOTS_PEFT_PYTHON");

  @TempDir Path temp;

  @ParameterizedTest
  @ValueSource(
      strings = {
        "knots-ties_topk20_s0.6.safetensors",
        "knots-ties_topk20_s0.6_concat-input.safetensors",
        "ties_topk20_s0.3.safetensors",
        "ta_s0.5.safetensors"
      })
  void peftLoadsTheMergedAdapter(String file) throws Exception {
    if ("true".equals(System.getenv("CI"))) {
      assertTrue(PYTHON != null, "CI must run the PEFT checks: run the tests with scripts/test");
    }
    assumeTrue(PYTHON != null, "KNOTS_PEFT_PYTHON is not set; scripts/test sets it");
    Path out = temp.resolve(file.replace(".safetensors", ""));
    LocalMerge.run(Fixtures.request(Fixtures.config(file), out.toString()), Fixtures.STORE, false);

    Process check =
        new ProcessBuilder(
                List.of(
                    PYTHON,
                    Path.of("scripts/check_peft_adapter.py").toAbsolutePath().toString(),
                    "--base",
                    Fixtures.path("base_model"),
                    "--adapter",
                    out.toString(),
                    "--expected",
                    Fixtures.path("expected/" + file)))
            .redirectErrorStream(true)
            .start();
    String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(check.waitFor(5, TimeUnit.MINUTES), "the PEFT check did not finish");
    assertEquals(0, check.exitValue(), "PEFT check failed:\n" + output);
    assertTrue(output.contains("OK "), output);
  }
}
