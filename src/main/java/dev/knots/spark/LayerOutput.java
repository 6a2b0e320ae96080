package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.job.AdapterModules;
import dev.knots.job.ModuleOutcome;
import dev.knots.merge.SignVote;
import java.io.IOException;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.api.java.function.Function;

/**
 * Right after a layer is merged, in the same task: writes its adapter part (when an adapter is
 * written) and reports its modules' outcomes, so merged layers need not be kept for that.
 */
final class LayerOutput implements Function<MergedLayer, LayerOutput.Result> {
  private static final long serialVersionUID = 1L;

  /** The layer's outcomes, its part when an adapter is written, and its majority-sign vote. */
  record Result(int layer, List<ModuleOutcome> outcomes, AdapterOutput.Part part, SignVote vote)
      implements Serializable {}

  private final FileStore store;

  /** The adapter's parts directory, or null when no adapter is written. */
  private final String parts;

  /** The rank of the LoRA extracted from the merge ({@code --lora-rank}), or null: exact. */
  private final Integer loraRank;

  /** Test seam: every attempt of this layer fails right after writing its part; -1 for none. */
  private final int failAfterWritingLayer;

  LayerOutput(FileStore store, String parts, Integer loraRank, int failAfterWritingLayer) {
    this.store = store;
    this.parts = parts;
    this.loraRank = loraRank;
    this.failAfterWritingLayer = failAfterWritingLayer;
  }

  /** The layer's part is null when no adapter is written or none of its modules goes in it. */
  @Override
  public Result call(MergedLayer layer) throws IOException {
    AdapterModules modules =
        loraRank == null
            ? AdapterModules.exact(layer.modules())
            : AdapterModules.extracted(layer.modules(), loraRank);
    AdapterOutput.Part part =
        parts == null || modules.written().isEmpty()
            ? null
            : AdapterOutput.writePart(store, parts, layer.index(), modules.written());
    if (layer.index() == failAfterWritingLayer) {
      throw new IOException(
          "Injected write failure after writing "
              + (part == null ? "nothing" : Locations.redact(part.location()))
              + " (test seam "
              + SparkMergeJob.FAIL_WRITE_CONF
              + ")");
    }
    return new Result(layer.index(), modules.outcomes(), part, layer.vote());
  }
}
