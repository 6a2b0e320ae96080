package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.job.AdapterModules;
import dev.knots.job.ModuleOutcome;
import java.io.IOException;
import java.io.Serializable;
import java.util.List;
import org.apache.spark.api.java.function.Function;

/**
 * Right after a layer is merged, in the same task: writes its adapter part (when an adapter is
 * written) and reports its modules' outcomes, so merged layers need not be kept for that.
 */
final class LayerOutput implements Function<MergedLayer, LayerOutput.Written> {
  private static final long serialVersionUID = 1L;

  /**
   * A layer's module outcomes and its part (null when no adapter is written or none of its modules
   * goes in it).
   */
  record Written(List<ModuleOutcome> outcomes, AdapterOutput.Part part) implements Serializable {}

  private final FileStore store;

  /** The adapter's parts directory, or null when no adapter is written. */
  private final String parts;

  /** The rank of the LoRA extracted from the merge ({@code --lora-rank}), or null: exact. */
  private final Integer loraRank;

  LayerOutput(FileStore store, String parts, Integer loraRank) {
    this.store = store;
    this.parts = parts;
    this.loraRank = loraRank;
  }

  @Override
  public Written call(MergedLayer layer) throws IOException {
    AdapterModules modules =
        loraRank == null
            ? AdapterModules.exact(layer.modules())
            : AdapterModules.extracted(layer.modules(), loraRank);
    AdapterOutput.Part part =
        parts == null || modules.written().isEmpty()
            ? null
            : AdapterOutput.writePart(store, parts, layer.index(), modules.written());
    return new Written(modules.outcomes(), part);
  }
}
