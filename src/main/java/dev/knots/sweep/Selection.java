package dev.knots.sweep;

/**
 * The sweep file's {@code select:}: which column of the results table picks each combination's best
 * point.
 *
 * @param metric a numeric column, such as {@code eval.avg_norm} or {@code merged_norm}
 * @param maximize {@code mode: max} (the default), else min
 */
public record Selection(String metric, boolean maximize) {}
