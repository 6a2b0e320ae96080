package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Checkpoints;
import dev.knots.Fixtures;
import dev.knots.PeftCheck;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.linalg.Decompositions;
import dev.knots.linalg.Matrix;
import dev.knots.merge.ModuleDiagnostics;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.ModuleSpec;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA extracted from the merge of checkpoints ({@code --lora-rank}): at full rank it carries the
 * merged update (the fixture tolerance, 1e-4, holds as for the merge itself) and loads in PEFT; at
 * a low rank it is the truncated SVD of the merged update, keeping the share of the Frobenius norm
 * that the expected update's own singular values predict (to 1e-4: the expected file is float32,
 * ours float64, and their singular values differ by far less).
 */
class ExtractedLoraTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";
  private static final String PREFIX = "base_model.model.";

  @TempDir static Path temp;
  private static List<String> checkpoints;
  private static final String BASE = Fixtures.path("base_model");

  @BeforeAll
  static void writeCheckpoints() throws Exception {
    checkpoints = Checkpoints.write(temp.resolve("ft"), BASE, DType.F64);
  }

  /** Each module of the adapter at {@code directory}: its update {@code B @ A}. */
  private static Map<String, Matrix> updates(Path directory) throws Exception {
    AdapterSet adapter =
        AdapterSet.open(
            Fixtures.STORE, List.of(directory.toString()), LoraAdapter.UnsupportedTensors.REFUSE);
    Map<String, Matrix> updates = new HashMap<>();
    for (ModuleSpec module : adapter.modules()) {
      updates.put(module.key(), module.sources().get(0).read(Fixtures.STORE).delta());
    }
    return updates;
  }

  private static JsonNode report(Path directory) throws Exception {
    return new ObjectMapper().readTree(directory.resolve(MergeReport.FILE_NAME).toFile());
  }

  @Test
  void atFullRankTheAdapterCarriesTheMergeAndLoadsInPeft() throws Exception {
    Path out = temp.resolve("full");
    LocalRuns.run(
        Checkpoints.adapterRequest(KNOTS_TIES, checkpoints, BASE, out.toString(), 64),
        Fixtures.STORE,
        false);
    Map<String, Matrix> expected = Fixtures.matrices("expected/" + KNOTS_TIES);
    Map<String, Matrix> got = updates(out);
    assertEquals(
        expected.size(), got.size(), "only the modules the merge changes: " + got.keySet());
    for (Map.Entry<String, Matrix> e : expected.entrySet()) {
      String key = e.getKey().substring(PREFIX.length(), e.getKey().length() - ".weight".length());
      assertNull(Fixtures.compare(key, got.get(key), e.getValue()));
    }
    JsonNode report = report(out);
    assertEquals(0, report.at("/changesNotInAdapter").size());
    int leftOut = 0;
    for (JsonNode module : report.at("/modules")) {
      if (module.get("loraLeftOut").isNull()) {
        assertEquals(1.0, module.get("loraKeptFraction").asDouble(), 1e-12, module.toString());
      } else {
        assertEquals("the merged update is zero", module.get("loraLeftOut").asText());
        leftOut++;
      }
    }
    assertEquals(10, leftOut, "9 mlp weights and the embeddings");
    PeftCheck.assertPeftReproduces(out, KNOTS_TIES);
  }

  /** A changed embedding cannot be lora_A/lora_B; another module of the same update can. */
  @Test
  void aChangedEmbeddingIsLeftOutWithTheReason() {
    double[] column = new double[17];
    double[] row = new double[64];
    Arrays.fill(column, 1);
    Arrays.fill(row, 0.5);
    Matrix b = Matrix.fromRowMajor(17, 1, column);
    Matrix a = Matrix.fromRowMajor(1, 64, row);
    ExtractedLora embedding =
        ExtractedLora.of(
            new MergedModule("embed_tokens", b, a, 0, new long[1], ModuleDiagnostics.zero(1)), 8);
    assertTrue(embedding.written().isEmpty());
    assertTrue(embedding.leftOut().contains("embedding"), embedding.leftOut());
    ExtractedLora other =
        ExtractedLora.of(
            new MergedModule(
                "layers.0.mlp.up_proj", b, a, 0, new long[1], ModuleDiagnostics.zero(1)),
            8);
    assertEquals(1, other.lora().rank(), "rank min(8, nonzero rank 1)");
    assertEquals(1.0, other.keptFraction(), 1e-15);
  }

  @Test
  void atLowRankItIsTheTruncatedSvdOfTheMergedUpdate() throws Exception {
    int rank = 4;
    Path out = temp.resolve("rank4");
    LocalRuns.run(
        Checkpoints.adapterRequest(KNOTS_TIES, checkpoints, BASE, out.toString(), rank),
        Fixtures.STORE,
        false);
    Map<String, Matrix> got = updates(out);
    Map<String, Double> kept = new HashMap<>();
    report(out)
        .at("/modules")
        .forEach(m -> kept.put(m.get("key").asText(), m.get("loraKeptFraction").asDouble()));
    for (Map.Entry<String, Matrix> e : Fixtures.matrices("expected/" + KNOTS_TIES).entrySet()) {
      String key = e.getKey().substring(PREFIX.length(), e.getKey().length() - ".weight".length());
      Matrix want = e.getValue();
      double[] s = Decompositions.thinSvd(want).s();
      double all = 0;
      double top = 0;
      for (int j = 0; j < s.length; j++) {
        all += s[j] * s[j];
        top += j < rank ? s[j] * s[j] : 0;
      }
      double fraction = Math.sqrt(top / all);
      assertEquals(fraction, kept.get(key), 1e-4, key + " kept fraction");
      // Eckart-Young: the residual of the best rank-r approximation is the norm of the tail.
      double residual = got.get(key).minus(want).frobeniusNorm() / want.frobeniusNorm();
      assertEquals(Math.sqrt(1 - fraction * fraction), residual, 1e-4, key + " residual");
      assertTrue(got.get(key).frobeniusNorm() > 0);
    }
  }
}
