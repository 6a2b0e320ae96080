package dev.knots.bench;

import dev.knots.knots.Concat;
import dev.knots.knots.JointSvd;
import dev.knots.knots.LoraFactors;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Netlib;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Timings of the joint SVD, kept apart from the tests. Run after {@code scripts/knots-merge} has
 * built the classpath, with {@code java --add-modules=jdk.incubator.vector -cp target/classes:$(cat
 * target/classpath.txt) dev.knots.bench.JointSvdBenchmark}; add {@code
 * -Ddev.ludovic.netlib.blas.allowNative=false -Ddev.ludovic.netlib.lapack.allowNative=false} for
 * the pure-Java fallback. Prints the median of a few repetitions after a warm-up.
 */
public final class JointSvdBenchmark {

  private JointSvdBenchmark() {}

  public static void main(String[] args) {
    System.out.println(
        "BLAS "
            + Netlib.blas().getClass().getSimpleName()
            + ", LAPACK "
            + Netlib.lapack().getClass().getSimpleName());
    List<LoraFactors> llama = tasks(4096, 4096, 6, 16, new Random(1));
    for (Concat concat : Concat.values()) {
      time(
          "ofFactors 4096x4096, n=6, r=16, " + concat,
          2,
          5,
          () -> JointSvd.ofFactors(llama, concat));
    }
    List<Matrix> dense =
        tasks(1024, 1024, 6, 16, new Random(2)).stream().map(LoraFactors::delta).toList();
    time(
        "ofDense 1024x1024, n=6 (M is 1024x6144)",
        1,
        3,
        () -> JointSvd.ofDense(dense, Concat.OUTPUT));
  }

  private static List<LoraFactors> tasks(int out, int in, int n, int r, Random random) {
    List<LoraFactors> tasks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      tasks.add(new LoraFactors(gaussian(out, r, random), gaussian(in, r, random), 2.0));
    }
    return tasks;
  }

  private static Matrix gaussian(int rows, int cols, Random random) {
    Matrix m = Matrix.zeros(rows, cols);
    for (int i = 0; i < m.data.length; i++) {
      m.data[i] = random.nextGaussian() * 0.01;
    }
    return m;
  }

  private static void time(String what, int warmups, int reps, Supplier<?> work) {
    for (int i = 0; i < warmups; i++) {
      work.get();
    }
    double[] ms = new double[reps];
    for (int i = 0; i < reps; i++) {
      long start = System.nanoTime();
      work.get();
      ms[i] = (System.nanoTime() - start) / 1e6;
    }
    Arrays.sort(ms);
    System.out.printf(
        "%-45s median %8.1f ms (min %.1f, max %.1f)%n", what, ms[reps / 2], ms[0], ms[reps - 1]);
  }
}
