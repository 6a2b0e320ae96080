package dev.knots.spark;

import dev.knots.job.MergedModule;
import dev.knots.merge.SignVote;
import java.io.Serializable;
import java.util.List;

/**
 * One layer after the merge step: each module's merged update as LoRA factors, and the layer's
 * share of the majority-sign vote. The global majority sign is known only once every layer has
 * voted, and it changes a merge only where an entry's pruned sum cancels exactly; a layer with such
 * an entry is merged for each possible majority (-1, 0, +1), and {@link #decided} picks.
 *
 * @param byMajority the merge whatever the majority, or for an undecided layer one merge per
 *     possible majority -1, 0, +1 (index majority + 1)
 */
record MergedLayer(int index, SignVote vote, List<List<MergedModule>> byMajority)
    implements Serializable {

  /** A layer whose merge does not depend on the majority sign. */
  MergedLayer(int index, List<MergedModule> modules, SignVote vote) {
    this(index, vote, List.of(modules));
  }

  boolean undecided() {
    return byMajority.size() > 1;
  }

  /** The merged modules of a decided layer. */
  List<MergedModule> modules() {
    if (undecided()) {
      throw new IllegalStateException(
          "Layer "
              + index
              + " awaits the global majority sign: take decided(majority) first. This is a bug in"
              + " the knots-merge job.");
    }
    return byMajority.get(0);
  }

  /** The layer as merged with the global majority sign {@code majority} (-1, 0 or +1). */
  MergedLayer decided(int majority) {
    return undecided() ? new MergedLayer(index, byMajority.get(majority + 1), vote) : this;
  }
}
