package dev.knots.io.peft;

import java.util.Objects;

/**
 * A merged module to be written as LoRA factors, representing the update {@code B @ A} (scaling 1).
 * The arrays are not copied. They are column-major, the layout the merge computes them in; the
 * writer transposes them to the file's row-major layout as it encodes them.
 *
 * @param key the module name inside the base model, for example {@code layers.0.self_attn.q_proj}
 * @param rank number of components, at least 1
 * @param out output features
 * @param in input features
 * @param b {@code out x rank}, column-major (entry {@code (i, j)} at {@code i + j * out})
 * @param a {@code rank x in}, column-major (entry {@code (i, j)} at {@code i + j * rank})
 */
public record MergedLoraModule(String key, int rank, int out, int in, double[] b, double[] a) {

  public MergedLoraModule {
    Objects.requireNonNull(key, "key");
    if (rank < 1 || out < 1 || in < 1) {
      throw new IllegalArgumentException(
          "Cannot write module "
              + key
              + " with rank "
              + rank
              + ", out "
              + out
              + ", in "
              + in
              + ": all must be at least 1 (leave out modules whose update is zero).");
    }
    if (b.length != (long) out * rank || a.length != (long) rank * in) {
      throw new IllegalArgumentException(
          "Cannot write module "
              + key
              + ": B has "
              + b.length
              + " values and A has "
              + a.length
              + ", but B must be "
              + out
              + " x "
              + rank
              + " and A "
              + rank
              + " x "
              + in
              + ".");
    }
  }

  public LoraShape shape() {
    return new LoraShape(key, rank, out, in);
  }

  @Override
  public String toString() {
    return "MergedLoraModule[" + key + ", rank " + rank + ", " + out + " x " + in + "]";
  }
}
