package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.job.AlignedModule;
import dev.knots.knots.Concat;
import dev.knots.knots.JointSvd;
import dev.knots.linalg.Decompositions;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Netlib;
import dev.knots.linalg.Qr;
import dev.knots.linalg.Svd;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathCosts;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.mllib.linalg.SingularValueDecomposition;
import org.apache.spark.mllib.linalg.distributed.IndexedRow;
import org.apache.spark.mllib.linalg.distributed.IndexedRowMatrix;
import org.apache.spark.mllib.linalg.distributed.RowMatrix;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;

/**
 * The DISTRIBUTED path for one module: the KnOTS joint SVD of {@code M} from MLlib's Gramian of
 * {@link StackedRows} ({@code c x c}, {@code c} the smaller side of {@code M}), then the tasks'
 * representations by projection, so the result is an {@link AlignedModule} of the same form as the
 * local paths' (basis {@code U}, kept singular values, {@code R_i} column-major {@code k x w}).
 *
 * <p>The SVD: {@code computeSVD(c, false, 0, ..., "local-svd")} below MLlib's local-svd limit (all
 * {@code c} components; local-svd is one Spark job for the Gramian plus a LAPACK SVD on the driver,
 * where the ARPACK modes could not return all components and dist-eigs runs a job per iteration);
 * above it, MLlib's {@code computeGramianMatrix} and our own dsyevd. {@code rCond = 0}: MLlib's cut
 * is relative to {@code s_max} and must not drop what the absolute {@link JointSvd#CUTOFF} keeps;
 * that cut is applied here.
 *
 * <p>Two ways to the factors, by which side the Gramian is on:
 *
 * <ul>
 *   <li>{@code X = M^T} (Gramian {@code M M^T}, {@code m <= N}): MLlib's {@code V} is {@code U},
 *       orthonormal to rounding (eigenvectors of a symmetric matrix). {@code R_i = U^T
 *       orient(dW_i)} is projected row by row of X in executors. The projection is exact, so {@code
 *       U R_i} reproduces {@code dW_i} to rounding when nothing is cut; only the split of the
 *       smallest components, and their values {@code s = sqrt(eig)}, carry the Gramian's error of
 *       about {@code eps s_max^2 / s}.
 *   <li>{@code X = M} (Gramian {@code M^T M}, {@code N < m}): MLlib's {@code V} is {@code V}.
 *       Rather than {@code U = M V diag(1/s)}, which loses orthogonality in the small components,
 *       executors compute {@code Y = M V} ({@code m x c}) and the driver re-orthonormalizes it:
 *       {@code Y = Q T}, {@code T = W diag(s) Z^T}, so {@code M V = (Q W) diag(s) (V Z)^T V}; with
 *       {@code V} complete ({@code c} components) this is the SVD of {@code M} itself, to float64
 *       rounding (a QR and a small SVD, no squared condition number), and {@code R_i = diag(s) (V
 *       Z)_i^T}.
 * </ul>
 */
final class DistributedAlignment {

  /** MLlib's relative cut: none, see the class comment. */
  static final double RELATIVE_CUT = 0.0;

  /** ARPACK settings; unused by local-svd, passed because the 6-argument call needs them. */
  private static final int MAX_ITERATIONS = 300;

  private static final double TOLERANCE = 1e-10;

  private DistributedAlignment() {}

  /**
   * How a module is taken apart: MLlib's local-svd or our dsyevd of MLlib's Gramian, and the rows
   * of {@code dW} per read.
   */
  record Route(boolean localSvd, int rowsPerRead) {

    /** local-svd within its limit, reads of about {@link PathCosts#BLOCK_VALUES} entries. */
    static Route of(ModuleSpec spec, Concat concat) {
      return new Route(
          PathCosts.of(spec, concat).smallerSide() <= PathCosts.LOCAL_SVD_MAX_COLUMNS,
          PathCosts.rowsPerRead(spec, concat));
    }
  }

  /**
   * Aligns one module planned DISTRIBUTED, taken apart as {@code route} says, and returns it keyed
   * by its layer's index, persisted and computed (so the rows it read can go); the caller
   * unpersists the result once the layer used it.
   */
  static JavaPairRDD<Integer, AlignedModule> align(
      JavaSparkContext jsc,
      int layer,
      ModuleSpec spec,
      Concat concat,
      FileStore store,
      Consumer<String> describe,
      Route route) {
    boolean localSvd = route.localSvd();
    StackedRows stacked = new StackedRows(spec, concat, store, route.rowsPerRead());
    int c = stacked.columns();
    describe.accept(
        String.format(
            Locale.ROOT,
            "align %s distributed: %d tasks, Gramian %d x %d (%s, %s)",
            spec.key(),
            spec.taskCount(),
            c,
            c,
            stacked.transposed() ? "M M^T" : "M^T M",
            localSvd ? "local-svd" : "Gramian + dsyevd"));
    JavaRDD<IndexedRow> rows = stacked.read(jsc).persist(StorageLevel.MEMORY_AND_DISK());
    try {
      Svd gramian = gramianSvd(new IndexedRowMatrix(rows.rdd(), stacked.rows(), c), c, localSvd);
      JavaPairRDD<Integer, AlignedModule> module =
          stacked.transposed()
              ? projectOntoU(jsc, layer, spec, concat, rows, gramian)
              : rotateFromV(jsc, layer, spec, concat, rows, gramian);
      module.persist(StorageLevel.MEMORY_AND_DISK()).count();
      return module;
    } finally {
      rows.unpersist(false);
    }
  }

  /**
   * X's right singular vectors (all {@code c}, in {@code u}, {@code c x c}) and singular values,
   * from the {@code c x c} Gramian.
   */
  private static Svd gramianSvd(IndexedRowMatrix x, int c, boolean localSvd) {
    if (c == 0) {
      return new Svd(Matrix.zeros(0, 0), new double[0], Matrix.zeros(0, 0));
    }
    Netlib.load(); // before MLlib reaches netlib, so that it loads quietly
    RowMatrix rows = x.toRowMatrix();
    if (localSvd) {
      SingularValueDecomposition<RowMatrix, org.apache.spark.mllib.linalg.Matrix> svd =
          rows.computeSVD(c, false, RELATIVE_CUT, MAX_ITERATIONS, TOLERANCE, "local-svd");
      double[] s = svd.s().toArray();
      Matrix v = new Matrix(c, s.length, svd.V().toArray());
      return new Svd(v, s, v.transpose());
    }
    org.apache.spark.mllib.linalg.Matrix g = rows.computeGramianMatrix();
    Svd eigen = Decompositions.psdSvd(new Matrix(c, c, g.toArray()));
    double[] s = Arrays.stream(eigen.s()).map(Math::sqrt).toArray();
    return new Svd(eigen.u(), s, eigen.vt());
  }

  /**
   * X = M^T: keep {@code U = V_k}, project every row of X onto it: a column of some {@code R_i}.
   */
  private static JavaPairRDD<Integer, AlignedModule> projectOntoU(
      JavaSparkContext jsc,
      int layer,
      ModuleSpec spec,
      Concat concat,
      JavaRDD<IndexedRow> rows,
      Svd gramian) {
    int k = kept(gramian.s());
    Matrix u = gramian.u().columns(0, k);
    double[] s = Arrays.copyOf(gramian.s(), k);
    Broadcast<Matrix> basis = jsc.broadcast(u);
    int width = concat == Concat.OUTPUT ? spec.in() : spec.out();
    int tasks = spec.taskCount();
    String key = spec.key();
    int out = spec.out();
    int in = spec.in();
    return rows.mapPartitionsToPair(part -> project(part, basis.value(), layer))
        .groupByKey(1)
        .mapValues(
            columns -> {
              float[][] representations = new float[tasks][k * width];
              for (Tuple2<Long, double[]> column : columns) {
                int task = (int) (column._1() / width);
                int j = (int) (column._1() % width);
                double[] values = column._2();
                for (int c = 0; c < k; c++) {
                  representations[task][j * k + c] = (float) values[c];
                }
              }
              return new AlignedModule(key, out, in, concat, basis.value(), s, representations);
            });
  }

  /** {@code U^T x} for every row x of the partition, as one matrix product. */
  private static Iterator<Tuple2<Integer, Tuple2<Long, double[]>>> project(
      Iterator<IndexedRow> part, Matrix u, int layer) {
    List<IndexedRow> block = new ArrayList<>();
    part.forEachRemaining(block::add);
    Matrix x = rowsAsColumns(block, u.rows);
    Matrix projected = u.transposeMultiply(x); // k x rows
    List<Tuple2<Integer, Tuple2<Long, double[]>>> out = new ArrayList<>(block.size());
    for (int r = 0; r < block.size(); r++) {
      double[] column = Arrays.copyOfRange(projected.data, r * u.cols, (r + 1) * u.cols);
      out.add(new Tuple2<>(layer, new Tuple2<>(block.get(r).index(), column)));
    }
    return out.iterator();
  }

  /**
   * X = M: {@code Y = M V} in executors, then on the driver {@code Y = Q T}, {@code T = W diag(s)
   * Z^T}: {@code U = Q W}, {@code V' = V Z}, {@code R_i = diag(s) V'_i^T}, cut at the absolute
   * {@link JointSvd#CUTOFF}. The driver holds this module's representations for a moment: {@code N
   * x k <= c^2} entries, no more than the Gramian it already held.
   */
  private static JavaPairRDD<Integer, AlignedModule> rotateFromV(
      JavaSparkContext jsc,
      int layer,
      ModuleSpec spec,
      Concat concat,
      JavaRDD<IndexedRow> rows,
      Svd gramian) {
    Matrix v = gramian.u();
    int m = concat == Concat.OUTPUT ? spec.out() : spec.in();
    Broadcast<Matrix> right = jsc.broadcast(v);
    Matrix y = Matrix.zeros(m, v.cols);
    for (Tuple2<Long, double[]> row :
        rows.mapPartitionsToPair(part -> project(part, right.value(), 0)).values().collect()) {
      for (int j = 0; j < v.cols; j++) {
        y.data[row._1().intValue() + j * m] = row._2()[j];
      }
    }
    right.destroy();
    Qr qr = Decompositions.thinQr(y);
    Svd small = Decompositions.thinSvd(qr.r()).truncate(JointSvd.CUTOFF);
    Matrix u = qr.q().multiply(small.u());
    Matrix rotated = v.multiplyTranspose(small.vt()); // V Z, N x k
    int k = small.rank();
    int width = concat == Concat.OUTPUT ? spec.in() : spec.out();
    float[][] representations = new float[spec.taskCount()][];
    for (int task = 0; task < representations.length; task++) {
      Matrix block = rotated.rowRange(task * width, (task + 1) * width); // w x k
      representations[task] = block.transpose().scaleRows(small.s()).toFloats();
    }
    AlignedModule module =
        new AlignedModule(
            spec.key(), spec.out(), spec.in(), concat, u, small.s().clone(), representations);
    return jsc.parallelizePairs(List.of(new Tuple2<>(layer, module)), 1);
  }

  /** The number of leading values above the absolute cutoff. */
  private static int kept(double[] s) {
    int k = 0;
    while (k < s.length && s[k] > JointSvd.CUTOFF) {
      k++;
    }
    return k;
  }

  /** The rows as the columns of a {@code length x rows} matrix (X^T's block), for one dgemm. */
  private static Matrix rowsAsColumns(List<IndexedRow> rows, int length) {
    double[] data = new double[rows.size() * length];
    for (int r = 0; r < rows.size(); r++) {
      double[] values = rows.get(r).vector().toArray();
      System.arraycopy(values, 0, data, r * length, length);
    }
    return new Matrix(length, rows.size(), data);
  }
}
