package dev.knots.spark;

import dev.knots.job.MergedModule;
import dev.knots.merge.SignVote;
import java.io.Serializable;
import java.util.List;

/**
 * One layer after the merge step: each module's merged update as LoRA factors, and the layer's
 * share of the majority-sign vote.
 */
record MergedLayer(int index, List<MergedModule> modules, SignVote vote) implements Serializable {}
