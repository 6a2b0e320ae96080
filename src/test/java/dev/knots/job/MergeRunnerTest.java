package dev.knots.job;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.io.FileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.PathOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several merges in one run: points of one alignment share it, and each writes exactly what it
 * would write on its own.
 */
class MergeRunnerTest {
  private static final String KNOTS_TIES = "knots-ties_topk20_s0.6.safetensors";

  @TempDir Path temp;

  /** The fixture's merge with other hyperparameters, method and concatenation. */
  private MergeRequest point(String name, String method, double topK, Concat concat) {
    MergeRequest fixture = Fixtures.request(Fixtures.config(KNOTS_TIES), "unused");
    return new MergeRequest(
        fixture.adapters(),
        MergeMethods.byName(method),
        MergeParameters.defaults().withTopK(topK).withScaling(fixture.parameters().scaling()),
        concat,
        temp.resolve(name).toString(),
        OutputFormat.ADAPTER,
        Optional.empty());
  }

  @Test
  void pointsOfOneAlignmentAlignOnceAndWriteWhatSeparateMergesWrite() throws IOException {
    List<MergeRequest> points =
        List.of(
            point("a", "knots-ties", 20, Concat.OUTPUT),
            point("b", "knots-ties", 50, Concat.OUTPUT),
            point("c", "knots-ta", 100, Concat.OUTPUT),
            point("d", "knots-ties", 20, Concat.INPUT),
            point("e", "ties", 20, Concat.OUTPUT));
    CountingAligns engine = new CountingAligns(new LocalEngine(Fixtures.STORE));
    RecordedProgress progress = new RecordedProgress();
    new MergeRunner(engine, false)
        .run(LocalRuns.sharingInputs(points, Fixtures.STORE, PathOptions.defaults()), progress);

    assertEquals(Map.of(), progress.failures);
    List<MergeReport> reports = List.copyOf(progress.reports.values());
    assertEquals(5, reports.size());
    // a, b and c share one alignment; d concatenates the other way; e does not align with KnOTS
    assertEquals(3, engine.aligns);
    assertEquals(0, reports.get(1).bytesRead(), "the second point reads nothing");
    for (MergeRequest point : points) {
      Path batch = Path.of(point.output());
      Path alone = temp.resolve("alone-" + batch.getFileName());
      LocalRuns.run(withOutput(point, alone), Fixtures.STORE, false);
      assertArrayEquals(
          Files.readAllBytes(alone.resolve(LoraAdapter.WEIGHTS_FILE)),
          Files.readAllBytes(batch.resolve(LoraAdapter.WEIGHTS_FILE)),
          point.output());
      assertTrue(Files.exists(batch.resolve(OutputCommit.SUCCESS)));
    }
  }

  @Test
  void aFailedMergeDoesNotStopTheOthers() throws IOException {
    List<MergeRequest> points =
        List.of(
            point("first", "knots-ties", 20, Concat.OUTPUT),
            point("second", "knots-ties", 50, Concat.OUTPUT),
            point("third", "knots-ties", 70, Concat.OUTPUT));
    Files.createDirectories(temp.resolve("second"));
    RecordedProgress progress = new RecordedProgress();
    new MergeRunner(new LocalEngine(Fixtures.STORE), false)
        .run(LocalRuns.sharingInputs(points, Fixtures.STORE, PathOptions.defaults()), progress);
    assertEquals(points.stream().map(MergeRequest::output).toList(), progress.order);
    IOException e = progress.failures.get(points.get(1).output());
    assertTrue(
        e.getMessage().contains("second") && e.getMessage().contains("--overwrite"),
        e.getMessage());
    assertTrue(Files.exists(temp.resolve("first").resolve(OutputCommit.SUCCESS)));
    assertTrue(Files.exists(temp.resolve("third").resolve(OutputCommit.SUCCESS)));
  }

  private static MergeRequest withOutput(MergeRequest request, Path output) {
    return new MergeRequest(
        request.adapters(),
        request.method(),
        request.parameters(),
        request.concat(),
        output.toString(),
        request.format(),
        request.base());
  }

  /** An engine that counts its alignments. */
  private static final class CountingAligns implements MergeEngine {
    private final MergeEngine engine;
    int aligns;

    CountingAligns(MergeEngine engine) {
      this.engine = engine;
    }

    @Override
    public FileStore store() {
      return engine.store();
    }

    @Override
    public Alignment align(PlannedMerge merge) throws IOException {
      aligns++;
      return engine.align(merge);
    }

    @Override
    public Map<String, String> description() {
      return engine.description();
    }

    @Override
    public long bytesRead() {
      return engine.bytesRead();
    }

    @Override
    public long bytesWritten() {
      return engine.bytesWritten();
    }
  }
}
