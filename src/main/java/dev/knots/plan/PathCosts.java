package dev.knots.plan;

import dev.knots.knots.Concat;
import java.util.List;

/**
 * The working set of each alignment path for one module, in bytes, from shapes and ranks alone
 * (float64, 8 bytes an entry). Notation: {@code n} tasks with {@code O x I} updates; the stacked
 * matrix {@code M} is {@code m x N} with {@code m} the stacked side ({@code O} for OUTPUT, {@code
 * I} for INPUT), {@code w} the other side and {@code N = n w}; {@code c = min(m, N)} is its smaller
 * side and {@code S} the sum of the LoRA ranks. The terms, in entries:
 *
 * <ul>
 *   <li>factor, one task: the factors ({@code m S + S w}), {@code Q_B} ({@code m S}), the {@code
 *       Q_i} ({@code w S}), the core and its SVD ({@code 4 S^2}), {@code U} ({@code m k}) and the
 *       representations ({@code n k w}), with {@code k <= min(m, S)}.
 *   <li>dense, one task: the updates, {@code M} and dgesdd's copy of it ({@code 3 m N}), the
 *       representations ({@code c N}) and dgesdd's square factor and workspace ({@code 5 c^2}).
 *   <li>distributed, driver: the {@code c x c} Gramian, its local SVD or eigendecomposition (copy,
 *       two factors, workspace) and the basis ({@code 6 c^2}); when the Gramian is {@code M^T M}
 *       ({@code N < m}), also {@code U = M V} and its QR ({@code 2 m c}).
 *   <li>distributed, one task: a block of rows as read and as reassembled ({@code 2 b}, {@code b}
 *       about {@link #BLOCK_VALUES}), the broadcast basis ({@code c^2}) and the module's
 *       representations ({@code c N}), which the layer's merge holds whatever the path.
 * </ul>
 */
public record PathCosts(
    int stacked,
    int width,
    int tasks,
    int smallerSide,
    int totalRank,
    long factor,
    long dense,
    long distributedDriver,
    long distributedTask) {

  /**
   * MLlib's Gramian ({@code computeGramianMatrix}, {@code computeSVD}) takes at most this many
   * columns.
   */
  public static final int GRAMIAN_MAX_COLUMNS = 65535;

  /**
   * MLlib's {@code local-svd} mode needs fewer than 17515 columns (its LAPACK workspace is an int).
   */
  public static final int LOCAL_SVD_MAX_COLUMNS = 17514;

  /**
   * Past {@link #LOCAL_SVD_MAX_COLUMNS} we take MLlib's Gramian and decompose it ourselves with
   * LAPACK dsyevd, whose workspace {@code 1 + 6c + 2c^2} must also fit an int.
   */
  public static final int EIGEN_MAX_COLUMNS = 32766;

  /** Entries one read of the distributed path aims at: 4 Mi doubles, 32 MiB. */
  public static final int BLOCK_VALUES = 1 << 22;

  private static final long BYTES = 8;

  public static PathCosts of(ModuleSpec spec, Concat concat) {
    long m = concat == Concat.OUTPUT ? spec.out() : spec.in();
    long w = concat == Concat.OUTPUT ? spec.in() : spec.out();
    long n = spec.taskCount();
    long wide = n * w;
    long c = Math.min(m, wide);
    long s = spec.totalRank();
    long k = Math.min(m, s);
    long factor = m * s + s * w + m * s + w * s + 4 * s * s + m * k + n * k * w;
    long dense = 3 * m * wide + c * wide + 5 * c * c;
    long driver = 6 * c * c + (wide < m ? 2 * m * c : 0);
    long block = (long) rowsPerRead(spec, concat) * rowWidth(spec, concat);
    long task = 2 * block + c * c + c * wide;
    return new PathCosts(
        (int) m,
        (int) w,
        (int) n,
        (int) c, // <= m
        (int) s,
        BYTES * factor,
        BYTES * dense,
        BYTES * driver,
        BYTES * task);
  }

  /**
   * Bytes a plain method's layer task holds: every module's dense update per task in float32 (the
   * merge's vectors, all of the layer's modules at once), the merged updates in float64, and one
   * update in float64 as it is formed.
   */
  public static long plainLayer(List<ModuleSpec> modules) {
    long bytes = 0;
    long largest = 0;
    for (ModuleSpec spec : modules) {
      bytes += spec.entries() * (4L * spec.taskCount() + BYTES);
      largest = Math.max(largest, spec.entries());
    }
    return bytes + BYTES * largest;
  }

  /**
   * Rows of {@code dW} one read of the distributed path takes, so that a read holds about {@link
   * #BLOCK_VALUES} entries.
   */
  public static int rowsPerRead(ModuleSpec spec, Concat concat) {
    long perRow = Math.max(1, rowWidth(spec, concat));
    return (int) Math.max(1, Math.min(spec.out(), BLOCK_VALUES / perRow));
  }

  /**
   * Entries one row of a read holds: {@code I}, or {@code n I} when the Gramian is {@code M^T M}
   * under OUTPUT, where a row of M is that row of every task's update, read together.
   */
  private static long rowWidth(ModuleSpec spec, Concat concat) {
    long wide = (long) spec.taskCount() * spec.in();
    boolean rowsOfEveryTask = concat == Concat.OUTPUT && wide < spec.out();
    return rowsOfEveryTask ? wide : spec.in();
  }

  /** Whether the Gramian is {@code M M^T}, whose eigenvectors are {@code U} ({@code m <= N}). */
  public boolean gramianGivesU() {
    return stacked <= (long) tasks * width;
  }
}
