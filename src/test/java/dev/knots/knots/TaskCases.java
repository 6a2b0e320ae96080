package dev.knots.knots;

import static dev.knots.linalg.TestMatrices.gaussian;
import static dev.knots.linalg.TestMatrices.orthonormalColumns;

import dev.knots.linalg.Matrix;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Sets of LoRA tasks with a known joint rank, for the contract and agreement tests.
 *
 * @param keptUpdates each task's {@code O x I} update minus the components below the cutoff: what
 *     an exact alignment reproduces
 * @param outputRank {@code k} for {@link Concat#OUTPUT}
 * @param inputRank {@code k} for {@link Concat#INPUT}
 * @param keptValues the joint singular values when they are known by construction, else null
 */
record TaskCases(
    String name,
    List<LoraFactors> tasks,
    List<Matrix> keptUpdates,
    int outputRank,
    int inputRank,
    double[] keptValues) {

  int rank(Concat concat) {
    return concat == Concat.OUTPUT ? outputRank : inputRank;
  }

  @Override
  public String toString() {
    return name;
  }

  /**
   * Tasks with Gaussian factors, whose joint rank is generic: the column spaces of the oriented
   * updates (dimension {@code min(r_i, width)} each) are in general position, so {@code k =
   * min(stacked, sum_i min(r_i, width))}.
   */
  static TaskCases generic(String name, List<LoraFactors> tasks) {
    int out = tasks.get(0).outFeatures();
    int in = tasks.get(0).inFeatures();
    int outputSum = 0;
    int inputSum = 0;
    for (LoraFactors t : tasks) {
      outputSum += Math.min(t.rank(), in);
      inputSum += Math.min(t.rank(), out);
    }
    return new TaskCases(
        name, tasks, deltas(tasks), Math.min(out, outputSum), Math.min(in, inputSum), null);
  }

  /** Gaussian factors of rank {@code r}, with a scale drawn from [0.5, 3). */
  static LoraFactors randomLora(int out, int in, int r, Random random) {
    return new LoraFactors(
        gaussian(out, r, random), gaussian(in, r, random), 0.5 + 2.5 * random.nextDouble());
  }

  /** {@code n} Gaussian tasks of rank {@code r} each. */
  static TaskCases random(String name, int out, int in, int n, int r, Random random) {
    List<LoraFactors> tasks = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      tasks.add(randomLora(out, in, r, random));
    }
    return generic(name, tasks);
  }

  /**
   * Tasks whose joint SVD is known exactly: task {@code i} is {@code g * (P_i diag(sigma_i / g))
   * Q_i^T} where the blocks {@code P_i} (of one orthonormal {@code O x S} matrix) and {@code Q_i}
   * (of one orthonormal {@code I x S} matrix) are mutually orthogonal across tasks, so the joint
   * singular values are all the {@code sigma}s in either orientation. Values {@code <= cutoff} must
   * be dropped.
   */
  static TaskCases designed(
      String name, int out, int in, double scale, double[][] sigmas, double cutoff, Random random) {
    int total = Arrays.stream(sigmas).mapToInt(s -> s.length).sum();
    Matrix p = orthonormalColumns(out, total, random);
    Matrix q = orthonormalColumns(in, total, random);
    List<LoraFactors> tasks = new ArrayList<>();
    List<Matrix> kept = new ArrayList<>();
    List<Double> keptValues = new ArrayList<>();
    int offset = 0;
    for (double[] sigma : sigmas) {
      Matrix pi = p.columns(offset, offset + sigma.length);
      Matrix qi = q.columns(offset, offset + sigma.length);
      double[] scaled = new double[sigma.length];
      double[] above = new double[sigma.length];
      for (int j = 0; j < sigma.length; j++) {
        scaled[j] = sigma[j] / scale;
        above[j] = sigma[j] > cutoff ? sigma[j] : 0.0;
        if (sigma[j] > cutoff) {
          keptValues.add(sigma[j]);
        }
      }
      tasks.add(new LoraFactors(pi.scaleColumns(scaled), qi, scale));
      kept.add(pi.scaleColumns(above).multiplyTranspose(qi));
      offset += sigma.length;
    }
    double[] values = keptValues.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    for (int i = 0; i < values.length / 2; i++) { // descending
      double t = values[i];
      values[i] = values[values.length - 1 - i];
      values[values.length - 1 - i] = t;
    }
    return new TaskCases(name, tasks, kept, values.length, values.length, values);
  }

  static List<Matrix> deltas(List<LoraFactors> tasks) {
    return tasks.stream().map(LoraFactors::delta).toList();
  }
}
