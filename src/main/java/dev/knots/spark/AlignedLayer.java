package dev.knots.spark;

import dev.knots.job.AlignedModule;
import java.io.Serializable;
import java.util.List;

/**
 * One layer after the align step, as the persisted RDD holds it: each module's alignment, which
 * every merge point that shares it reads (DARE, where a point asks for it, drops entries of a
 * copy).
 */
record AlignedLayer(int index, List<AlignedModule> modules) implements Serializable {}
