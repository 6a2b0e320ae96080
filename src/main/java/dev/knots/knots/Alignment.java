package dev.knots.knots;

import dev.knots.linalg.Matrix;
import java.util.List;
import java.util.Objects;

/**
 * The KnOTS alignment of one module: the shared basis {@code u} and each task's representation in
 * it, so that task {@code i}'s update is {@code dW_i = orient(u @ R_i)} up to the dropped
 * components (see {@link Concat#orient}).
 *
 * <ul>
 *   <li>{@code u}: {@code O x k} for {@link Concat#OUTPUT}, {@code I x k} for {@link Concat#INPUT};
 *       orthonormal columns.
 *   <li>{@code s}: the {@code k} kept joint singular values, descending, all {@code > } {@link
 *       JointSvd#CUTOFF}.
 *   <li>{@code representations}: {@code R_i = diag(s) @ V_i^T}, {@code k x I} (OUTPUT) or {@code k
 *       x O} (INPUT), one per task in task order (see {@link Representation} for their form).
 * </ul>
 *
 * Float64. {@code s} and the matrices are exposed as is; do not modify them.
 */
public record Alignment(Concat concat, Matrix u, double[] s, List<Representation> representations) {

  /** Validates the shapes listed above and copies the list. */
  public Alignment {
    Objects.requireNonNull(concat, "concat");
    Objects.requireNonNull(u, "u");
    Objects.requireNonNull(s, "s");
    representations = List.copyOf(representations);
    if (u.cols != s.length) {
      throw new IllegalArgumentException(
          "Cannot form an alignment from U "
              + u
              + " and "
              + s.length
              + " singular values: U must have one column per value.");
    }
    if (representations.isEmpty()) {
      throw new IllegalArgumentException("Cannot form an alignment without task representations.");
    }
    int width = representations.get(0).cols();
    for (int i = 0; i < representations.size(); i++) {
      Representation r = representations.get(i);
      if (r.rows() != s.length || r.cols() != width) {
        throw new IllegalArgumentException(
            "Cannot form an alignment: representation of task "
                + i
                + " is "
                + r.rows()
                + "x"
                + r.cols()
                + ", expected "
                + s.length
                + "x"
                + width
                + ".");
      }
    }
  }

  /** Returns {@code k}, the number of kept components (columns of {@code u}). */
  public int rank() {
    return s.length;
  }

  /** Returns {@code n}, the number of tasks. */
  public int taskCount() {
    return representations.size();
  }

  /** Returns {@code O}, the rows of every update. */
  public int outFeatures() {
    return concat == Concat.OUTPUT ? u.rows : representations.get(0).cols();
  }

  /** Returns {@code I}, the columns of every update. */
  public int inFeatures() {
    return concat == Concat.OUTPUT ? representations.get(0).cols() : u.rows;
  }

  /** Returns task {@code task}'s representation {@code R_task} in float64. */
  public Matrix representation(int task) {
    return representations.get(task).matrix();
  }

  /** Returns task {@code task}'s update {@code orient(u @ R_task)}, {@code O x I}, a new matrix. */
  public Matrix update(int task) {
    return reconstruct(representation(task));
  }

  /**
   * Returns the {@code O x I} update {@code orient(u @ merged)} of a merged representation. {@code
   * merged} has the shape of a representation: {@code k x I} (OUTPUT) or {@code k x O} (INPUT).
   * Float64; {@code merged} is not modified.
   */
  public Matrix reconstruct(Matrix merged) {
    Representation like = representations.get(0);
    if (merged.rows != like.rows() || merged.cols != like.cols()) {
      throw new IllegalArgumentException(
          "Cannot reconstruct an update from a "
              + merged
              + " representation: this "
              + concat
              + " alignment expects "
              + like.rows()
              + "x"
              + like.cols()
              + ".");
    }
    // orient is its own inverse: it turns the oriented product back into O x I
    return concat.orient(u.multiply(merged));
  }
}
