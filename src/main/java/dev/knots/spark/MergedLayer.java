package dev.knots.spark;

import dev.knots.job.MergedModule;
import java.io.Serializable;
import java.util.List;

/** One layer after the merge step: each module's merged update as LoRA factors. */
record MergedLayer(int index, List<MergedModule> modules) implements Serializable {}
