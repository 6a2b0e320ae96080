package dev.knots.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Checkpoints;
import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.HfModelFiles;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorInfo;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.job.ModuleAligner;
import dev.knots.knots.Concat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening checkpoints from headers: what becomes a module, and every mismatch named. */
class CheckpointSetTest {
  @TempDir Path temp;

  private final String base = Fixtures.path("base_model");

  private CheckpointSet open(String... checkpoints) throws IOException {
    return CheckpointSet.open(
        Fixtures.STORE, base, List.of(checkpoints), Optional.empty(), VectorPolicy.MERGE);
  }

  /** A float32 copy of the base with its tensor list changed by {@code edit} (values zero). */
  private String variant(String name, UnaryOperator<List<TensorSpec>> edit) throws IOException {
    HfModelFiles model = HfModelFiles.open(Fixtures.STORE, base);
    List<TensorSpec> layout = new ArrayList<>();
    for (TensorInfo t : model.shards().get(0).header().tensors()) {
      layout.add(new TensorSpec(t.name(), DType.F32, t.shape()));
    }
    layout = edit.apply(layout);
    Path directory = Files.createDirectories(temp.resolve(name));
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(
            Fixtures.STORE.outputFile(directory.resolve("model.safetensors").toString()),
            layout,
            Map.of())) {
      for (TensorSpec spec : layout) {
        writer.write(spec.name(), new double[(int) spec.elementCount()]);
      }
    }
    return directory.toString();
  }

  @Test
  void twoDimensionalWeightsAreModulesAndTheRestPlainTensors() throws IOException {
    String checkpoint = variant("same", l -> l);
    CheckpointSet set = open(checkpoint);
    assertEquals(22, set.modules().size(), "7 per layer plus embed_tokens");
    ModuleSpec q =
        set.modules().stream()
            .filter(m -> m.key().equals("layers.0.self_attn.k_proj"))
            .findFirst()
            .orElseThrow();
    assertEquals(32, q.out());
    assertEquals(64, q.in());
    assertEquals(32, q.sources().get(0).rank(), "min(O, I)");
    assertTrue(!q.factored());
    assertEquals(7, set.plainTensors().size(), "two norms per layer and the final norm");

    CheckpointSet excluded =
        CheckpointSet.open(
            Fixtures.STORE,
            base,
            List.of(checkpoint),
            Optional.of(Pattern.compile("mlp|embed")),
            VectorPolicy.BASE);
    assertEquals(12, excluded.modules().size());
    assertEquals(0, excluded.plainTensors().size());
    assertEquals(2, excluded.warnings().size(), excluded.warnings().toString());
  }

  @Test
  void aMissingTensorIsNamedWithTheCheckpoint() throws IOException {
    String checkpoint =
        variant("missing", l -> l.stream().filter(t -> !t.name().equals("norm.weight")).toList());
    FileFormatException e = assertThrows(FileFormatException.class, () -> open(checkpoint));
    assertTrue(
        e.getMessage().startsWith("Cannot merge checkpoint " + checkpoint)
            && e.getMessage().contains("no tensor 'norm.weight'"),
        e.getMessage());
  }

  @Test
  void anExtraTensorIsNamed() throws IOException {
    String checkpoint =
        variant(
            "extra",
            l -> {
              List<TensorSpec> more = new ArrayList<>(l);
              more.add(TensorSpec.matrix("lm_head.weight", DType.F32, 17, 64));
              return more;
            });
    FileFormatException e = assertThrows(FileFormatException.class, () -> open(checkpoint));
    assertTrue(e.getMessage().contains("a tensor 'lm_head.weight'"), e.getMessage());
  }

  @Test
  void aShapeMismatchNamesTheTensorAndBothShapes() throws IOException {
    String checkpoint =
        variant(
            "shape",
            l ->
                l.stream()
                    .map(
                        t ->
                            t.name().equals("layers.1.self_attn.k_proj.weight")
                                ? TensorSpec.matrix(t.name(), DType.F32, 64, 64)
                                : t)
                    .toList());
    FileFormatException e = assertThrows(FileFormatException.class, () -> open(checkpoint));
    assertTrue(
        e.getMessage().contains("checkpoint " + checkpoint)
            && e.getMessage()
                .contains(
                    "tensor 'layers.1.self_attn.k_proj.weight' has shape [64, 64] but [32, 64]"),
        e.getMessage());
  }

  /** Writes a float32 checkpoint changing layer 0's q_proj by {@code change}; its update source. */
  private UpdateSource qProjUpdate(Path checkpoint, double[] change) throws IOException {
    Checkpoints.writeModel(
        checkpoint,
        HfModelFiles.open(Fixtures.STORE, base),
        DType.F32,
        Map.of("layers.0.self_attn.q_proj.weight", change));
    return open(checkpoint.toString()).modules().stream()
        .filter(m -> m.key().equals("layers.0.self_attn.q_proj"))
        .findFirst()
        .orElseThrow()
        .sources()
        .get(0);
  }

  /**
   * A row range of a dense update is exactly those rows of the whole update (the same stored values
   * subtracted the same way), and recovers the change written into the checkpoint up to the float32
   * rounding of base + change (half an ulp of the stored value).
   */
  @Test
  void rowRangesOfAnUpdateAreThoseRowsOfTheWholeUpdate() throws IOException {
    double[] change = new double[64 * 64];
    for (int i = 0; i < change.length; i++) {
      change[i] = 1e-3 * Math.cos(i);
    }
    UpdateSource source = qProjUpdate(temp.resolve("rows"), change);
    double[] whole = source.read(Fixtures.STORE).delta().toRowMajor();
    double[] rows = source.readRows(Fixtures.STORE, 3, 5).toRowMajor();
    assertArrayEquals(Arrays.copyOfRange(whole, 3 * 64, 8 * 64), rows, 0.0);
    for (int i = 0; i < whole.length; i++) {
      assertEquals(change[i], whole[i], 2e-7, "entry " + i);
    }
  }

  /**
   * Every entry of the update fits float32, but its KnOTS representation (the column's norm, 3e38 *
   * sqrt(2)) does not: the align step names the checkpoint and the weight.
   */
  @Test
  void anUpdateWhoseAlignmentLeavesFloat32NamesTheCheckpoint() throws IOException {
    double[] change = new double[64 * 64];
    change[5] = 3e38;
    change[64 + 5] = 3e38;
    Path checkpoint = temp.resolve("huge");
    UpdateSource source = qProjUpdate(checkpoint, change);
    ModuleSpec spec = new ModuleSpec("layers.0.self_attn.q_proj", 64, 64, List.of(source));
    FileFormatException e =
        assertThrows(
            FileFormatException.class,
            () ->
                ModuleAligner.align(
                    new ModulePlan(spec, AlignPath.DENSE, "test"), Concat.OUTPUT, Fixtures.STORE));
    assertEquals(
        "Cannot use checkpoint "
            + checkpoint
            + ": its update of layers.0.self_attn.q_proj (fine-tuned minus base), aligned by KnOTS,"
            + " is beyond float32's range (an entry above 3.4028235E38 in magnitude), in which the"
            + " merge holds the updates. Check that the checkpoint was fine-tuned from this"
            + " --base.",
        e.getMessage());
  }

  @Test
  void aNonFiniteValueNamesTheCheckpointAndTensor() throws IOException {
    double[] delta = new double[64 * 64];
    delta[70] = Double.NaN;
    Path checkpoint = temp.resolve("nan");
    UpdateSource source = qProjUpdate(checkpoint, delta);
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> source.read(Fixtures.STORE));
    assertTrue(
        e.getMessage()
                .startsWith(
                    "Cannot use " + checkpoint + ": tensor 'layers.0.self_attn.q_proj.weight'")
            && e.getMessage().contains("NaN at flat index 70"),
        e.getMessage());
  }
}
