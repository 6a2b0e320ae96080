package dev.knots.job;

import dev.knots.knots.Concat;
import dev.knots.linalg.Decompositions;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Svd;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleDiagnostics;
import java.io.Serializable;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * One module's merged update in LoRA form, {@code dW = b @ a} with {@code b} O x r and {@code a} r
 * x I, which is what the adapter output stores (with alpha = r, so PEFT's scaling is 1).
 *
 * @param components the KnOTS components before zero rows were dropped (0 for plain methods)
 * @param usedPerTask per task, how many of its entries went into the merge
 * @param diagnostics the module's share of the merge's data-free diagnostics
 */
public record MergedModule(
    String key,
    Matrix b,
    Matrix a,
    int components,
    long[] usedPerTask,
    ModuleDiagnostics diagnostics)
    implements Serializable {

  /** The LoRA rank of the merged update. */
  public int rank() {
    return a.rows;
  }

  public int out() {
    return b.rows;
  }

  public int in() {
    return a.cols;
  }

  /**
   * True when the merged update is exactly zero (everything pruned, or no task changed the module),
   * so a model writer can keep the base weight's exact bytes.
   */
  public boolean isZero() {
    return b.maxAbs() == 0 || a.maxAbs() == 0;
  }

  /** The merged update {@code dW}, O x I. */
  public Matrix update() {
    return b.multiply(a);
  }

  /**
   * Turns a merged vector into LoRA factors. KnOTS: {@code dW = U R} (or its transpose with {@link
   * Concat#INPUT}); components whose merged row of {@code R} is all zero (pruned away) contribute
   * nothing and are dropped, so the rank is what survived. Plain methods: the merged {@code dW} is
   * factored by a thin SVD keeping every singular value above float64 round-off, so {@code b @ a}
   * reproduces it to that precision.
   */
  public static MergedModule of(AlignedModule module, MergedVector vector) {
    double[] merged = vector.values();
    long[] usedPerTask = vector.usedPerTask();
    ModuleDiagnostics diagnostics = ModuleDiagnostics.of(module.representations(), merged);
    if (!module.isAligned()) {
      return factorDense(
          module.key(), new Matrix(module.out(), module.in(), merged), usedPerTask, diagnostics);
    }
    Matrix r = new Matrix(module.representationRows(), module.representationCols(), merged);
    int[] live = nonZeroRows(r);
    boolean allLive = live.length == r.rows;
    Matrix keptR = allLive ? r : r.selectRows(live);
    Matrix keptU = allLive ? module.basis() : module.basis().selectColumns(live);
    Matrix b = module.concat() == Concat.OUTPUT ? keptU : keptR.transpose();
    Matrix a = module.concat() == Concat.OUTPUT ? keptR : keptU.transpose();
    return withMinimumRank(module.key(), b, a, module.components(), usedPerTask, diagnostics);
  }

  /**
   * What {@link ModuleOutcome#of}{@code (of(module, vector))} says, for a merge that writes
   * nothing: for KnOTS the rank is counted from the merged rows without building the factors.
   */
  public static ModuleOutcome outcome(AlignedModule module, MergedVector vector) {
    if (!module.isAligned()) {
      return ModuleOutcome.of(of(module, vector));
    }
    Matrix r =
        new Matrix(module.representationRows(), module.representationCols(), vector.values());
    return new ModuleOutcome(
        module.key(),
        module.out(),
        module.in(),
        module.components(),
        Math.max(1, nonZeroRows(r).length),
        vector.usedPerTask().clone(),
        0,
        Double.NaN,
        null,
        ModuleDiagnostics.of(module.representations(), vector.values()));
  }

  private static MergedModule factorDense(
      String key, Matrix update, long[] usedPerTask, ModuleDiagnostics diagnostics) {
    Svd svd = Decompositions.thinSvd(update);
    double[] s = svd.s();
    double tolerance =
        s.length == 0 ? 0 : s[0] * Math.max(update.rows, update.cols) * Math.ulp(1.0);
    int rank = 0;
    while (rank < s.length && s[rank] > tolerance) {
      rank++;
    }
    Matrix b = svd.u().columns(0, rank).scaleColumns(Arrays.copyOf(s, rank));
    Matrix a = svd.vt().rowRange(0, rank);
    return withMinimumRank(key, b, a, 0, usedPerTask, diagnostics);
  }

  /** PEFT needs rank >= 1: an all-zero merge becomes one zero component. */
  private static MergedModule withMinimumRank(
      String key,
      Matrix b,
      Matrix a,
      int components,
      long[] usedPerTask,
      ModuleDiagnostics diagnostics) {
    if (a.rows > 0) {
      return new MergedModule(key, b, a, components, usedPerTask, diagnostics);
    }
    return new MergedModule(
        key,
        Matrix.zeros(b.rows, 1),
        Matrix.zeros(1, a.cols),
        components,
        usedPerTask,
        diagnostics);
  }

  /**
   * The rows with a non-zero entry, scanning the column-major data in order and stopping once every
   * row has one (after a few columns, for a merge that kept every component).
   */
  private static int[] nonZeroRows(Matrix m) {
    boolean[] live = new boolean[m.rows];
    int found = 0;
    for (int column = 0; column < m.data.length && found < m.rows; column += m.rows) {
      for (int i = 0; i < m.rows; i++) {
        if (!live[i] && m.data[column + i] != 0) {
          live[i] = true;
          found++;
        }
      }
    }
    return IntStream.range(0, m.rows).filter(i -> live[i]).toArray();
  }
}
