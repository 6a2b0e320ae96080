package dev.knots.linalg;

import dev.ludovic.netlib.blas.BLAS;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;

/**
 * A dense float64 matrix in column-major order, the layout BLAS and LAPACK use: entry {@code (i,
 * j)} is {@code data[i + j * rows]}.
 *
 * <p>Zero-size matrices (no rows or no columns) are valid everywhere; they stand for a task that
 * does not adapt a module, or a rank that truncated to nothing. Every operation returns a new
 * matrix and leaves its operands unmodified, except {@link #set}. The fields are public so the
 * LAPACK calls and tight loops can use the array directly; treat a matrix you did not create as
 * read-only.
 */
public final class Matrix implements Serializable {
  private static final long serialVersionUID = 1L;

  private static final BLAS BLAS_ = Netlib.blas();

  public final int rows;
  public final int cols;

  /** Column-major entries, length {@code rows * cols}. */
  public final double[] data;

  /**
   * Wraps {@code data} (column-major, not copied) as a {@code rows x cols} matrix.
   *
   * @throws IllegalArgumentException if a dimension is negative or the length is not {@code rows *
   *     cols}
   */
  public Matrix(int rows, int cols, double[] data) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException(
          "Cannot create a " + rows + "x" + cols + " matrix: dimensions must be >= 0.");
    }
    if ((long) rows * cols != data.length) {
      throw new IllegalArgumentException(
          "Cannot create a "
              + rows
              + "x"
              + cols
              + " matrix from "
              + data.length
              + " values: expected "
              + (long) rows * cols
              + ".");
    }
    this.rows = rows;
    this.cols = cols;
    this.data = data;
  }

  /** Returns a new {@code rows x cols} matrix of zeros. */
  public static Matrix zeros(int rows, int cols) {
    if (rows < 0 || cols < 0) {
      throw new IllegalArgumentException(
          "Cannot create a " + rows + "x" + cols + " matrix: dimensions must be >= 0.");
    }
    return new Matrix(rows, cols, new double[Math.multiplyExact(rows, cols)]);
  }

  /** Returns the {@code n x n} identity matrix. */
  public static Matrix identity(int n) {
    Matrix m = zeros(n, n);
    for (int i = 0; i < n; i++) {
      m.data[i + i * n] = 1.0;
    }
    return m;
  }

  /**
   * Returns a new {@code rows x cols} matrix from row-major {@code values} (entry {@code (i, j)} at
   * {@code values[i * cols + j]}, the safetensors and numpy layout). {@code values} is copied.
   */
  public static Matrix fromRowMajor(int rows, int cols, double[] values) {
    return transposeOfRowMajor(rows, cols, values).transpose();
  }

  /**
   * Returns the {@code cols x rows} transpose of the row-major {@code rows x cols} matrix {@code
   * values} without copying: a row-major array is its transpose's column-major data. {@code values}
   * is wrapped, not copied.
   */
  public static Matrix transposeOfRowMajor(int rows, int cols, double[] values) {
    if ((long) rows * cols != values.length || rows < 0 || cols < 0) {
      throw new IllegalArgumentException(
          "Cannot create a "
              + rows
              + "x"
              + cols
              + " matrix from "
              + values.length
              + " row-major values.");
    }
    return new Matrix(cols, rows, values);
  }

  /**
   * Returns the entries in row-major order (entry {@code (i, j)} at {@code i * cols + j}), a new
   * array.
   */
  public double[] toRowMajor() {
    return transpose().data;
  }

  /** Returns entry {@code (i, j)}. */
  public double get(int i, int j) {
    return data[index(i, j)];
  }

  /** Sets entry {@code (i, j)} to {@code value}; modifies this matrix. */
  public void set(int i, int j, double value) {
    data[index(i, j)] = value;
  }

  /** Returns a deep copy. */
  public Matrix copy() {
    return new Matrix(rows, cols, data.clone());
  }

  /** Returns {@code this @ b}, shape {@code rows x b.cols}, float64 via BLAS dgemm. */
  public Matrix multiply(Matrix b) {
    return gemm("N", "N", this, b, rows, b.cols, cols, b.rows);
  }

  /**
   * Returns {@code this @ b^T} rounded to float32, column-major, for a product much larger than its
   * factors: it is computed a block of columns at a time, so no float64 copy of the whole product
   * is ever held. Each entry is the float64 dgemm result rounded once.
   */
  public float[] multiplyTransposeToFloats(Matrix b) {
    requireInner("N", "T", this, b, cols, b.cols);
    float[] out = new float[rows * b.rows];
    if (rows == 0 || b.rows == 0 || cols == 0) {
      return out;
    }
    // 256 KiB of float64 per block: the product block stays in cache until it is rounded
    int block = Math.max(1, Math.min(b.rows, (1 << 15) / rows));
    double[] buffer = new double[rows * block];
    for (int j0 = 0; j0 < b.rows; j0 += block) {
      int width = Math.min(block, b.rows - j0);
      // columns j0.. of b^T are rows j0.. of b
      BLAS_.dgemm(
          "N", "T", rows, width, cols, 1.0, data, 0, rows, b.data, j0, b.rows, 0.0, buffer, 0,
          rows);
      int base = j0 * rows;
      for (int t = 0; t < rows * width; t++) {
        out[base + t] = (float) buffer[t];
      }
    }
    return out;
  }

  /** Returns {@code this^T @ b}, shape {@code cols x b.cols}, without forming the transpose. */
  public Matrix transposeMultiply(Matrix b) {
    return gemm("T", "N", this, b, cols, b.cols, rows, b.rows);
  }

  /** Returns {@code this @ b^T}, shape {@code rows x b.rows}, without forming the transpose. */
  public Matrix multiplyTranspose(Matrix b) {
    return gemm("N", "T", this, b, rows, b.rows, cols, b.cols);
  }

  /**
   * {@code C = op(a) @ op(b)} with {@code op(a)} of shape m x k and {@code op(b)} of shape kb x n;
   * dgemm itself is skipped for empty results and empty inner dimensions (C = 0), which also keeps
   * lda = 0 away from LAPACK's argument checks.
   */
  private static Matrix gemm(
      String ta, String tb, Matrix a, Matrix b, int m, int n, int k, int kb) {
    requireInner(ta, tb, a, b, k, kb);
    Matrix c = zeros(m, n);
    if (m > 0 && n > 0 && k > 0) {
      BLAS_.dgemm(
          ta,
          tb,
          m,
          n,
          k,
          1.0,
          a.data,
          a.leadingDimension(),
          b.data,
          b.leadingDimension(),
          0.0,
          c.data,
          c.leadingDimension());
    }
    return c;
  }

  private static void requireInner(String ta, String tb, Matrix a, Matrix b, int k, int kb) {
    if (k != kb) {
      throw new IllegalArgumentException(
          "Cannot multiply "
              + describe(a, ta)
              + " by "
              + describe(b, tb)
              + ": inner dimensions "
              + k
              + " and "
              + kb
              + " differ.");
    }
  }

  private static String describe(Matrix m, String trans) {
    return "T".equals(trans) ? "(" + m.rows + "x" + m.cols + ")^T" : m.rows + "x" + m.cols;
  }

  /** Returns the {@code cols x rows} transpose, a new matrix. */
  public Matrix transpose() {
    Matrix t = zeros(cols, rows);
    transpose(data, rows, cols, t.data);
    return t;
  }

  /**
   * Writes the transpose of the column-major {@code rows x cols} matrix {@code src} into {@code
   * dst} (column-major {@code cols x rows}), in cache-sized tiles so that both the reads and the
   * strided accesses stay in cache. The innermost loop runs along the longer side, where the
   * contiguous accesses are: reads down a column of a tall matrix, writes along a row of a wide one
   * (about three times faster than the other order for a 4096 x 96 matrix).
   */
  private static void transpose(double[] src, int rows, int cols, double[] dst) {
    final int tile = 32;
    for (int i0 = 0; i0 < rows; i0 += tile) {
      int i1 = Math.min(rows, i0 + tile);
      for (int j0 = 0; j0 < cols; j0 += tile) {
        int j1 = Math.min(cols, j0 + tile);
        if (rows > cols) {
          for (int j = j0; j < j1; j++) {
            int from = j * rows;
            for (int i = i0; i < i1; i++) {
              dst[i * cols + j] = src[from + i];
            }
          }
        } else {
          for (int i = i0; i < i1; i++) {
            int to = i * cols;
            for (int j = j0; j < j1; j++) {
              dst[to + j] = src[j * rows + i];
            }
          }
        }
      }
    }
  }

  /** The entries in this matrix's column-major order, rounded to float32. */
  public float[] toFloats() {
    return toFloats(data);
  }

  /** {@code values} rounded to float32, in the same order. */
  public static float[] toFloats(double[] values) {
    float[] floats = new float[values.length];
    for (int i = 0; i < values.length; i++) {
      floats[i] = (float) values[i];
    }
    return floats;
  }

  /** Returns {@code factor * this}, a new matrix. */
  public Matrix scale(double factor) {
    double[] out = data.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] *= factor;
    }
    return new Matrix(rows, cols, out);
  }

  /**
   * Returns {@code diag(factors) @ this}: row {@code i} times {@code factors[i]}; length must be
   * {@code rows}.
   */
  public Matrix scaleRows(double[] factors) {
    requireLength(factors, rows, "rows");
    double[] out = data.clone();
    for (int j = 0; j < cols; j++) {
      for (int i = 0; i < rows; i++) {
        out[i + j * rows] *= factors[i];
      }
    }
    return new Matrix(rows, cols, out);
  }

  /**
   * Returns {@code this @ diag(factors)}: column {@code j} times {@code factors[j]}; length must be
   * {@code cols}.
   */
  public Matrix scaleColumns(double[] factors) {
    requireLength(factors, cols, "columns");
    double[] out = data.clone();
    for (int j = 0; j < cols; j++) {
      for (int i = 0; i < rows; i++) {
        out[i + j * rows] *= factors[j];
      }
    }
    return new Matrix(rows, cols, out);
  }

  /** Returns {@code this + other} (same shape), a new matrix. */
  public Matrix plus(Matrix other) {
    requireSameShape(other, "add");
    double[] out = data.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] += other.data[i];
    }
    return new Matrix(rows, cols, out);
  }

  /** Returns {@code this - other} (same shape), a new matrix. */
  public Matrix minus(Matrix other) {
    requireSameShape(other, "subtract");
    double[] out = data.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] -= other.data[i];
    }
    return new Matrix(rows, cols, out);
  }

  /** Returns columns {@code [from, to)} as a new {@code rows x (to - from)} matrix. */
  public Matrix columns(int from, int to) {
    checkRange(from, to, cols, "columns");
    // columns are contiguous in column-major order
    return new Matrix(rows, to - from, Arrays.copyOfRange(data, from * rows, to * rows));
  }

  /** Returns rows {@code [from, to)} as a new {@code (to - from) x cols} matrix. */
  public Matrix rowRange(int from, int to) {
    checkRange(from, to, rows, "rows");
    int height = to - from;
    Matrix out = zeros(height, cols);
    for (int j = 0; j < cols; j++) {
      System.arraycopy(data, from + j * rows, out.data, j * height, height);
    }
    return out;
  }

  /**
   * Returns {@code sqrt(sum of squares)}, scaled so that it neither overflows nor underflows; 0 for
   * an empty matrix.
   */
  public double frobeniusNorm() {
    double max = maxAbs();
    if (max == 0.0 || !Double.isFinite(max)) {
      return max;
    }
    double sum = 0.0;
    for (double v : data) {
      double x = v / max;
      sum += x * x;
    }
    return max * Math.sqrt(sum);
  }

  /** Returns {@code max |a_ij|}; 0 for an empty matrix, NaN if any entry is NaN. */
  public double maxAbs() {
    double max = 0.0;
    for (double v : data) {
      double a = Math.abs(v);
      if (!(a <= max)) {
        max = a; // also takes NaN, so it is not hidden
      }
    }
    return max;
  }

  /** Returns the rows listed in {@code rows}, in that order: a new {@code rows.length x cols}. */
  public Matrix selectRows(int[] rows) {
    Matrix out = zeros(rows.length, cols);
    for (int j = 0; j < cols; j++) {
      for (int r = 0; r < rows.length; r++) {
        out.data[r + j * rows.length] = data[rows[r] + j * this.rows];
      }
    }
    return out;
  }

  /**
   * Returns the columns listed in {@code columns}, in that order: a new {@code rows x
   * columns.length}.
   */
  public Matrix selectColumns(int[] columns) {
    Matrix out = zeros(rows, columns.length);
    for (int c = 0; c < columns.length; c++) {
      System.arraycopy(data, columns[c] * rows, out.data, c * rows, rows);
    }
    return out;
  }

  /**
   * Returns {@code [m_1 | m_2 | ... ]}: the matrices side by side, all with the same row count. The
   * list must not be empty (its row count would be unknown).
   */
  public static Matrix hstack(List<Matrix> blocks) {
    int height = requireNonEmpty(blocks, "hstack").rows;
    int width = 0;
    for (Matrix b : blocks) {
      if (b.rows != height) {
        throw new IllegalArgumentException(
            "Cannot hstack a "
                + b.rows
                + "x"
                + b.cols
                + " matrix with "
                + height
                + "-row matrices: row counts differ.");
      }
      width = Math.addExact(width, b.cols);
    }
    Matrix out = zeros(height, width);
    int offset = 0;
    for (Matrix b : blocks) {
      // column-major: each block is one contiguous run
      System.arraycopy(b.data, 0, out.data, offset, b.data.length);
      offset += b.data.length;
    }
    return out;
  }

  /** The leading dimension to hand to BLAS/LAPACK: they reject lda = 0 even for empty matrices. */
  int leadingDimension() {
    return Math.max(1, rows);
  }

  /** Returns the shape, e.g. {@code Matrix[64x8]}; entries are not printed. */
  @Override
  public String toString() {
    return "Matrix[" + rows + "x" + cols + "]";
  }

  private int index(int i, int j) {
    if (i < 0 || i >= rows || j < 0 || j >= cols) {
      throw new IndexOutOfBoundsException(
          "Entry (" + i + ", " + j + ") is outside a " + rows + "x" + cols + " matrix.");
    }
    return i + j * rows;
  }

  private void requireSameShape(Matrix other, String action) {
    if (other.rows != rows || other.cols != cols) {
      throw new IllegalArgumentException(
          "Cannot "
              + action
              + " a "
              + other.rows
              + "x"
              + other.cols
              + " matrix and a "
              + rows
              + "x"
              + cols
              + " matrix: shapes differ.");
    }
  }

  private void requireLength(double[] factors, int expected, String what) {
    if (factors.length != expected) {
      throw new IllegalArgumentException(
          "Cannot scale the "
              + what
              + " of a "
              + rows
              + "x"
              + cols
              + " matrix by "
              + factors.length
              + " factors: expected "
              + expected
              + ".");
    }
  }

  private static void checkRange(int from, int to, int size, String what) {
    if (from < 0 || to < from || to > size) {
      throw new IndexOutOfBoundsException(
          "Cannot take " + what + " [" + from + ", " + to + ") of " + size + ".");
    }
  }

  private static Matrix requireNonEmpty(List<Matrix> blocks, String action) {
    if (blocks.isEmpty()) {
      throw new IllegalArgumentException("Cannot " + action + " an empty list of matrices.");
    }
    return blocks.get(0);
  }
}
