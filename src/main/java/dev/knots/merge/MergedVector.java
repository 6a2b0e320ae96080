package dev.knots.merge;

import java.io.Serializable;

/**
 * One module's merged vector, per task how many of its entries went into it (kept by top-K for
 * summing methods, kept and agreeing with the elected sign for TIES methods), and the module's
 * share of the majority-sign vote ({@link SignVote#NONE} for methods that elect no signs).
 */
public record MergedVector(double[] values, long[] usedPerTask, SignVote vote)
    implements Serializable {}
