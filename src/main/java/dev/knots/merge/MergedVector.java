package dev.knots.merge;

import java.io.Serializable;

/**
 * One module's merged vector, and per task how many of its entries went into it: kept by top-K for
 * summing methods, kept and agreeing with the elected sign for TIES methods.
 */
public record MergedVector(double[] values, long[] usedPerTask) implements Serializable {}
