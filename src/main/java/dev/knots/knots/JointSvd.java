package dev.knots.knots;

import dev.knots.linalg.Decompositions;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Qr;
import dev.knots.linalg.Svd;
import java.util.ArrayList;
import java.util.List;

/**
 * The KnOTS joint SVD of one module's task updates (docs/merging.md, section 2): the thin SVD of
 * the stacked matrix {@code M = [orient(dW_1) | ... | orient(dW_n)]}, truncated to singular values
 * {@code > } {@link #CUTOFF}, split into the shared basis and one representation per task. Two
 * paths, which agree to rounding: {@link #ofFactors} for LoRA factors, which never forms an {@code
 * O x I} matrix, and {@link #ofDense} for full updates. Everything is float64.
 */
public final class JointSvd {

  /**
   * Components with singular value {@code > 1e-5} are kept; absolute, as in the reference
   * implementation.
   */
  public static final double CUTOFF = 1e-5;

  private JointSvd() {}

  /**
   * Aligns LoRA tasks exactly, working only with the factors (the factor path of docs/merging.md).
   * In the oriented frame (factors of {@code dW_i^T} for INPUT, see {@link
   * Concat#orient(LoraFactors)}), with {@code b_i} {@code m x r_i}, {@code a_i} {@code r_i x w} and
   * scale {@code g_i}:
   *
   * <pre>
   *   Bcat = [b_1 .. b_n] = Q_B R_B                  (m x S, S = sum r_i; thin QR)
   *   (g_i a_i)^T = Q_i R_i                          (w x r_i; thin QR, Q_i never formed)
   *   C = R_B @ blockdiag(R_i^T) = Uc diag(s) Vc^T   (min(m,S) x sum min(w,r_i); SVD)
   *   U = Q_B Uc,   R_i = U^T (g_i b_i a_i) = (Uc^T R_B[:, block i]) g_i a_i
   * </pre>
   *
   * The last line is {@code diag(s) Vc[block i]^T Q_i^T} rewritten so that {@code R_i} is a small
   * {@code k x r_i} matrix times the task's own {@code a_i} ({@link Representation}). Cost {@code
   * O(m S^2 + w sum r_i^2 + S^3)}; memory is dominated by {@code Q_B} and {@code U}. Rank-0 tasks
   * get zero representations. The tasks are not modified.
   *
   * @param tasks one entry per task, all with the same {@code O x I}; at least one
   * @throws IllegalArgumentException if the list is empty or the shapes differ
   */
  public static Alignment ofFactors(List<LoraFactors> tasks, Concat concat) {
    requireTasks(tasks);
    List<LoraFactors> oriented = new ArrayList<>();
    for (int i = 0; i < tasks.size(); i++) {
      LoraFactors t = tasks.get(i);
      requireShape(
          i,
          t.outFeatures(),
          t.inFeatures(),
          tasks.get(0).outFeatures(),
          tasks.get(0).inFeatures());
      oriented.add(concat.orient(t));
    }
    Qr left = Decompositions.thinQr(Matrix.hstack(oriented.stream().map(LoraFactors::b).toList()));

    // C = R_B @ blockdiag(R_i^T), built block by block: task i's columns of R_B times R_i^T
    List<Matrix> coreBlocks = new ArrayList<>();
    int column = 0;
    for (LoraFactors f : oriented) {
      Matrix right = Decompositions.qrUpper(f.aTransposed()).scale(f.scale());
      coreBlocks.add(left.r().columns(column, column + f.rank()).multiplyTranspose(right));
      column += f.rank();
    }
    Svd core = Decompositions.thinSvd(Matrix.hstack(coreBlocks)).truncate(CUTOFF);

    Matrix projected = core.u().transposeMultiply(left.r());
    List<Representation> representations = new ArrayList<>();
    column = 0;
    for (LoraFactors f : oriented) {
      Matrix coefficients = projected.columns(column, column + f.rank()).scale(f.scale());
      representations.add(new Representation(coefficients, f.aTransposed()));
      column += f.rank();
    }
    return new Alignment(concat, left.q().multiply(core.u()), core.s(), representations);
  }

  /**
   * Aligns full task updates: the thin SVD of the dense stacked matrix {@code M} ({@code O x n*I}
   * for OUTPUT, {@code I x n*O} for INPUT), truncated at {@link #CUTOFF}, with {@code R_i = diag(s)
   * V^T[:, block i]}. {@link Decompositions#thinSvd} hands dgesdd the tall transpose of a wide
   * {@code M}, which dgesdd reduces by a QR first, so this costs {@code O(n*I * O^2)} for OUTPUT
   * and stays float64-accurate (no Gramian); memory is a few copies of {@code M}. Meant for small
   * modules and tests: a 1024 x 6144 {@code M} takes about 2 s with native OpenBLAS and 30 s in
   * pure Java. The updates are not modified.
   *
   * @param updates one {@code O x I} update per task, all the same shape; at least one
   * @throws IllegalArgumentException if the list is empty or the shapes differ
   */
  public static Alignment ofDense(List<Matrix> updates, Concat concat) {
    requireTasks(updates);
    List<Matrix> oriented = new ArrayList<>();
    for (int i = 0; i < updates.size(); i++) {
      Matrix dW = updates.get(i);
      requireShape(i, dW.rows, dW.cols, updates.get(0).rows, updates.get(0).cols);
      oriented.add(concat.orient(dW));
    }
    int width = oriented.get(0).cols;
    Svd svd = Decompositions.thinSvd(Matrix.hstack(oriented)).truncate(CUTOFF);

    Matrix weighted = svd.vt().scaleRows(svd.s());
    List<Representation> representations = new ArrayList<>();
    for (int i = 0; i < oriented.size(); i++) {
      representations.add(Representation.of(weighted.columns(i * width, (i + 1) * width)));
    }
    return new Alignment(concat, svd.u(), svd.s(), representations);
  }

  private static void requireTasks(List<?> tasks) {
    if (tasks.isEmpty()) {
      throw new IllegalArgumentException(
          "Cannot align an empty list of tasks: the joint SVD needs at least one task update.");
    }
  }

  private static void requireShape(int task, int out, int in, int expectedOut, int expectedIn) {
    if (out != expectedOut || in != expectedIn) {
      throw new IllegalArgumentException(
          "Cannot align task "
              + task
              + ": its update is "
              + out
              + "x"
              + in
              + " but task 0's is "
              + expectedOut
              + "x"
              + expectedIn
              + ". All tasks of one module must have the same shape.");
    }
  }
}
