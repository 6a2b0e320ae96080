package dev.knots.job;

import dev.knots.Fixtures;
import dev.knots.PeftCheck;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Merged adapters of the merge core, for KnOTS and plain methods and both concat orientations, load
 * in real PEFT and carry the expected merged update (see {@link PeftCheck}).
 */
class PeftInteropTest {
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
    Path out = temp.resolve(file.replace(".safetensors", ""));
    LocalRuns.run(Fixtures.request(Fixtures.config(file), out.toString()), Fixtures.STORE, false);
    PeftCheck.assertPeftReproduces(out, file);
  }
}
