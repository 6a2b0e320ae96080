package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.job.AdapterModules;
import dev.knots.job.MergedModule;
import dev.knots.job.ModuleOutcome;
import dev.knots.merge.SignVote;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.function.Function;

/**
 * Right after a layer is merged, in the same task: writes its adapter part (when an adapter is
 * written) and reports its modules' outcomes, so merged layers need not be kept for that.
 */
final class LayerOutput implements Function<MergedLayer, LayerOutput.Result> {
  private static final long serialVersionUID = 1L;

  /**
   * A layer's module outcomes and its part (null when no adapter is written or none of its modules
   * goes in it).
   */
  record Written(List<ModuleOutcome> outcomes, AdapterOutput.Part part) implements Serializable {}

  /**
   * What the task wrote for its layer, and the layer's majority-sign vote: one {@link Written}, or
   * for a layer that awaits the global majority sign one per possible majority (see {@link
   * MergedLayer}).
   */
  record Result(int layer, SignVote vote, List<Written> byMajority) implements Serializable {

    /** What stands once the global majority sign is {@code majority} (-1, 0 or +1). */
    Written decided(int majority) {
      return byMajority.size() == 1 ? byMajority.get(0) : byMajority.get(majority + 1);
    }
  }

  private final FileStore store;

  /** The adapter's parts directory, or null when no adapter is written. */
  private final String parts;

  /** The rank of the LoRA extracted from the merge ({@code --lora-rank}), or null: exact. */
  private final Integer loraRank;

  /** Part name suffixes of an undecided layer's variants, for majority -1, 0 and +1. */
  private static final String[] MAJORITY_SUFFIXES = {
    "-majority-negative", "-majority-zero", "-majority-positive"
  };

  /** Test seam: every attempt of this layer fails right after writing its part; -1 for none. */
  private final int failAfterWritingLayer;

  LayerOutput(FileStore store, String parts, Integer loraRank, int failAfterWritingLayer) {
    this.store = store;
    this.parts = parts;
    this.loraRank = loraRank;
    this.failAfterWritingLayer = failAfterWritingLayer;
  }

  @Override
  public Result call(MergedLayer layer) throws IOException {
    List<Written> written = new ArrayList<>();
    for (int v = 0; v < layer.byMajority().size(); v++) {
      String suffix = layer.undecided() ? MAJORITY_SUFFIXES[v] : "";
      written.add(write(layer.index(), layer.byMajority().get(v), suffix));
    }
    if (layer.index() == failAfterWritingLayer) {
      AdapterOutput.Part part = written.get(0).part();
      throw new IOException(
          "Injected write failure after writing "
              + (part == null ? "nothing" : Locations.redact(part.location()))
              + " (test seam "
              + SparkMergeJob.FAIL_WRITE_CONF
              + ")");
    }
    return new Result(layer.index(), layer.vote(), written);
  }

  private Written write(int layer, List<MergedModule> merged, String suffix) throws IOException {
    AdapterModules modules =
        loraRank == null
            ? AdapterModules.exact(merged)
            : AdapterModules.extracted(merged, loraRank);
    AdapterOutput.Part part =
        parts == null || modules.written().isEmpty()
            ? null
            : AdapterOutput.writePart(store, parts, layer, suffix, modules.written());
    return new Written(modules.outcomes(), part);
  }
}
