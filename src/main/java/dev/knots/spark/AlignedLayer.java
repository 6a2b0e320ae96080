package dev.knots.spark;

import dev.knots.job.AlignedModule;
import java.io.Serializable;
import java.util.List;

/**
 * One layer after the align step, as the persisted RDD holds it: each module's alignment, DARE
 * already applied to its representations (see {@link AlignedModule#vectors}).
 */
record AlignedLayer(int index, List<AlignedModule> modules) implements Serializable {}
