package dev.knots.spark;

import dev.knots.job.AlignedModule;
import dev.knots.merge.ModuleVectors;
import java.io.Serializable;
import java.util.List;

/**
 * One layer after the align step, as the persisted RDD holds it: each module's alignment and the
 * vectors the merge works on (DARE already applied; the same arrays when there is no DARE).
 */
record AlignedLayer(int index, List<AlignedModule> modules, List<ModuleVectors> prepared)
    implements Serializable {}
