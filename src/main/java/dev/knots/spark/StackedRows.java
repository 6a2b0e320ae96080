package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathCosts;
import dev.knots.plan.UpdateSource;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.mllib.linalg.Vectors;
import org.apache.spark.mllib.linalg.distributed.IndexedRow;
import scala.Tuple2;

/**
 * The rows of the distributed matrix {@code X} for one module, read in executors with {@link
 * UpdateSource#readRows} by row ranges of {@code dW_i} (never a whole module in one task). {@code
 * X} has the stacked matrix's smaller side as its columns, so MLlib's driver-side Gramian is {@code
 * c x c}: {@code X = M^T} ({@code N x m}, Gramian {@code M M^T}) when {@code m <= N}, else {@code X
 * = M} ({@code m x N}, Gramian {@code M^T M}). Row {@code j} of {@code X} is column or row {@code
 * j} of {@code M}; that index is kept as the {@link IndexedRow}'s, so a projection knows which task
 * and column it belongs to.
 *
 * <p>A row of {@code X} is a row of the {@code dW_i} for INPUT with {@code X = M^T} (a row of one
 * task) and for OUTPUT with {@code X = M} (a row of every task, read together, side by side): those
 * are read as whole rows. In the other two cases a row of {@code X} is a column of {@code dW_i},
 * which a row-range read only yields in pieces; the pieces are shuffled by row index and put
 * together, one shuffle of the module's size.
 */
final class StackedRows implements Serializable {
  private static final long serialVersionUID = 1L;

  /** One read: rows {@code [first, first + count)} of the {@code dW_i} of {@code tasks}. */
  record Unit(int first, int count, int[] tasks) implements Serializable {}

  /** A segment of a row of X: {@code values} go to columns {@code [offset, offset + length)}. */
  record Piece(int offset, double[] values) implements Serializable {}

  private final ModuleSpec spec;
  private final FileStore store;
  private final Concat concat;
  private final boolean transposed;
  private final int columns;
  private final int rowsPerRead;

  StackedRows(ModuleSpec spec, Concat concat, FileStore store, int rowsPerRead) {
    PathCosts costs = PathCosts.of(spec, concat);
    this.spec = spec;
    this.store = store;
    this.concat = concat;
    this.transposed = costs.gramianGivesU();
    this.columns = costs.smallerSide();
    this.rowsPerRead = rowsPerRead;
  }

  /** Whether {@code X = M^T}, so MLlib's right singular vectors are KnOTS's {@code U}. */
  boolean transposed() {
    return transposed;
  }

  /** Columns of X, the smaller side {@code c} of M. */
  int columns() {
    return columns;
  }

  /** Rows of X. */
  long rows() {
    long stacked = concat == Concat.OUTPUT ? spec.out() : spec.in();
    long wide = (long) spec.taskCount() * (concat == Concat.OUTPUT ? spec.in() : spec.out());
    return transposed ? wide : stacked;
  }

  /** Whether a row of X is a row of the updates, so reads yield whole rows and need no shuffle. */
  boolean readsWholeRows() {
    return transposed == (concat == Concat.INPUT);
  }

  /** X's rows, read {@code rowsPerRead} rows of {@code dW} at a time. */
  JavaRDD<IndexedRow> read(JavaSparkContext jsc) {
    List<Unit> units = units();
    int partitions = Math.max(1, units.size());
    JavaRDD<Unit> reads = jsc.parallelize(units, partitions);
    if (readsWholeRows()) {
      return reads.flatMap(this::wholeRows);
    }
    return reads
        .flatMapToPair(this::pieces)
        .combineByKey(this::startRow, StackedRows::addPiece, StackedRows::addRow, partitions)
        .map(row -> new IndexedRow(row._1(), Vectors.dense(row._2())));
  }

  private List<Unit> units() {
    int step = rowsPerRead;
    boolean allTasksTogether = readsWholeRows() && !transposed;
    int[] everyTask = new int[spec.taskCount()];
    for (int i = 0; i < everyTask.length; i++) {
      everyTask[i] = i;
    }
    List<Unit> units = new ArrayList<>();
    for (int first = 0; first < spec.out(); first += step) {
      int count = Math.min(step, spec.out() - first);
      if (allTasksTogether) {
        units.add(new Unit(first, count, everyTask));
      } else {
        for (int task = 0; task < spec.taskCount(); task++) {
          units.add(new Unit(first, count, new int[] {task}));
        }
      }
    }
    return units;
  }

  private Matrix readBlock(int task, int first, int count) throws IOException {
    UpdateSource source = spec.sources().get(task);
    return source == null ? Matrix.zeros(count, spec.in()) : source.readRows(store, first, count);
  }

  /**
   * INPUT with X = M^T: row {@code i O + r} of X is row r of dW_i. OUTPUT with X = M: row r of X is
   * row r of every dW_i, side by side.
   */
  private Iterator<IndexedRow> wholeRows(Unit unit) throws IOException {
    int in = spec.in();
    double[][] rows = new double[unit.count()][columns];
    for (int task : unit.tasks()) {
      Matrix block = readBlock(task, unit.first(), unit.count());
      int offset = transposed ? 0 : task * in;
      for (int r = 0; r < unit.count(); r++) {
        for (int j = 0; j < in; j++) {
          rows[r][offset + j] = block.data[r + j * unit.count()];
        }
      }
    }
    long base = transposed ? (long) unit.tasks()[0] * spec.out() + unit.first() : unit.first();
    List<IndexedRow> out = new ArrayList<>(unit.count());
    for (int r = 0; r < unit.count(); r++) {
      out.add(new IndexedRow(base + r, Vectors.dense(rows[r])));
    }
    return out.iterator();
  }

  /**
   * OUTPUT with X = M^T: row {@code i I + j} of X is column j of dW_i. INPUT with X = M: row j of X
   * is column j of every dW_i, side by side. A read of rows {@code [first, first + count)} gives
   * each of those rows a contiguous segment: column j of the block.
   */
  private Iterator<Tuple2<Long, Piece>> pieces(Unit unit) throws IOException {
    int task = unit.tasks()[0];
    Matrix block = readBlock(task, unit.first(), unit.count());
    long rowBase = transposed ? (long) task * spec.in() : 0;
    int offset = transposed ? unit.first() : task * spec.out() + unit.first();
    List<Tuple2<Long, Piece>> out = new ArrayList<>(spec.in());
    for (int j = 0; j < spec.in(); j++) {
      double[] column = new double[unit.count()];
      System.arraycopy(block.data, j * unit.count(), column, 0, unit.count());
      out.add(new Tuple2<>(rowBase + j, new Piece(offset, column)));
    }
    return out.iterator();
  }

  private double[] startRow(Piece piece) {
    return addPiece(new double[columns], piece);
  }

  private static double[] addPiece(double[] row, Piece piece) {
    System.arraycopy(piece.values(), 0, row, piece.offset(), piece.values().length);
    return row;
  }

  /** Rows put together from disjoint pieces: each entry is set in exactly one of them. */
  private static double[] addRow(double[] a, double[] b) {
    for (int j = 0; j < a.length; j++) {
      a[j] += b[j];
    }
    return a;
  }
}
