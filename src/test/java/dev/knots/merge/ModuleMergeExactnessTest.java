package dev.knots.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link ModuleMerge#combine} (what {@link ModuleMerge#merge} computes before it checks that the
 * result fits float32) against steps 2-4 of docs/merging.md written out plainly, one entry at a
 * time, on data built to hit every edge of the branch-free kernels: ties at the threshold, zeros
 * and -0.0, subnormals, exact cancellations (a task and its negation), sums that round, infinities
 * and NaN, task counts around 64, lengths around the block size, scaling of either sign, both
 * scopes and a majority sign that is +1, -1 or pending. Every merged value must be the same bits,
 * and the used counts and the sign vote the same.
 */
class ModuleMergeExactnessTest {
  private static final MergeMethod TA = MergeMethods.byName("ta");
  private static final MergeMethod TIES = MergeMethods.byName("ties");
  private static final int[] TASK_COUNTS = {1, 2, 6, 63, 64, 65, 70};
  private static final int BLOCK = MergeKernels.BLOCK;
  private static final int[] LENGTHS = {
    0, 1, 7, BLOCK - 1, BLOCK, BLOCK + 1, 1023, 1024, 1025, 2500
  };

  @Test
  void globalScopeIsTheSpecBitForBit() {
    Random random = new Random(11);
    for (int n : TASK_COUNTS) {
      for (int length : LENGTHS) {
        for (int round = 0; round < 3; round++) {
          float[][] x = tasks(random, n, length, round == 2);
          MergeParameters parameters = parameters(random, n, Scope.GLOBAL, 100);
          int majority = random.nextInt(3) - 1;
          MergeStatistics statistics = new MergeStatistics(thresholds(random, x), majority);
          for (MergeMethod method : List.of(TA, TIES)) {
            check(method, parameters, statistics, x, n + " tasks x " + length + " #" + round);
          }
        }
      }
    }
  }

  @Test
  void moduleScopeIsTheSpecBitForBit() {
    Random random = new Random(12);
    for (int n : TASK_COUNTS) {
      for (int length : LENGTHS) {
        // No pruning, and one of a few top-K (each selection costs two histogram passes).
        for (double topK : new double[] {100, new double[] {50, 20, 1}[random.nextInt(3)]}) {
          float[][] x = tasks(random, n, length, false);
          MergeParameters parameters = parameters(random, n, Scope.MODULE, topK);
          for (MergeMethod method : List.of(TA, TIES)) {
            check(method, parameters, MergeStatistics.none(n), x, n + " x " + length + " " + topK);
          }
        }
      }
    }
  }

  @Test
  void oneInfinityOrNaNThresholdAmongFiniteValuesIsTheSpecBitForBit() {
    // The kernels must notice a single infinite entry (with every task keeping everything, too),
    // or a single task with a NaN threshold, without a NaN entry to give it away.
    Random random = new Random(13);
    for (int n : TASK_COUNTS) {
      for (int length : LENGTHS) {
        for (int round = 0; length > 0 && round < 3; round++) {
          float[][] x = tasks(random, n, length, false);
          double[] thresholds = thresholds(random, x);
          if (round == 2) {
            thresholds[random.nextInt(n)] = Double.NaN;
          } else {
            if (round == 1) {
              Arrays.fill(thresholds, 0);
            }
            x[random.nextInt(n)][random.nextInt(length)] =
                random.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
          }
          MergeParameters parameters = parameters(random, n, Scope.GLOBAL, 100);
          int majority = random.nextInt(3) - 1;
          MergeStatistics statistics = new MergeStatistics(thresholds, majority);
          for (MergeMethod method : List.of(TA, TIES)) {
            check(method, parameters, statistics, x, n + " x " + length + " non-finite #" + round);
          }
        }
      }
    }
  }

  @Test
  void moduleScopeRunsAgainWhenItsOwnMajorityDecidesACancelledEntry() {
    // Entry 0 cancels exactly with kept entries; entries 1 and 2 are negative, so the module's
    // majority is -1 and the negative task alone decides entry 0.
    float[][] x = {{1.5f, -1, -2}, {-1.5f, -1, -2}};
    MergeParameters parameters = MergeParameters.defaults().withScope(Scope.MODULE);
    MergedVector got = ModuleMerge.merge(TIES, parameters, MergeStatistics.none(2), vectors(x));
    assertArrayEquals(new double[] {-1.5, -1, -2}, got.values());
    assertArrayEquals(new long[] {2, 3}, got.usedPerTask());
    assertEquals(new SignVote(-2, false), got.vote());
    check(TIES, parameters, MergeStatistics.none(2), x, "cancelled entry");
  }

  @Test
  void aCancellationWithAPendingMajorityAsksForIt() {
    float[][] x = {{2, 1, 0, -0f}, {-2, 1, -0f, 0}};
    MergeStatistics pending = new MergeStatistics(new double[2], 0);
    MergedVector got = ModuleMerge.merge(TIES, MergeParameters.defaults(), pending, vectors(x));
    assertEquals(new SignVote(1, true), got.vote());
    check(TIES, MergeParameters.defaults(), pending, x, "pending");
    // All-zero entries never need the majority.
    float[][] zeros = {{0, -0f, 1}, {-0f, 0, 1}};
    MergedVector clean =
        ModuleMerge.merge(TIES, MergeParameters.defaults(), pending, vectors(zeros));
    assertEquals(new SignVote(1, false), clean.vote());
  }

  private static void check(
      MergeMethod method,
      MergeParameters parameters,
      MergeStatistics statistics,
      float[][] x,
      String what) {
    MergedVector expected = Spec.merge(method, parameters, statistics, x);
    MergedVector got = ModuleMerge.combine(method, parameters, statistics, vectors(x));
    String label = method + ", " + parameters.scope().optionValue() + " scope, " + what;
    assertArrayEquals(bits(expected.values()), bits(got.values()), label + ": merged bits");
    assertArrayEquals(expected.usedPerTask(), got.usedPerTask(), label + ": used");
    assertEquals(expected.vote(), got.vote(), label + ": vote");
  }

  /** docs/merging.md, one entry at a time, with the comparisons of the plain loop. */
  private static final class Spec {
    static MergedVector merge(
        MergeMethod method, MergeParameters parameters, MergeStatistics statistics, float[][] x) {
      int n = x.length;
      int length = n == 0 ? 0 : x[0].length;
      float[] t = new float[n];
      for (int i = 0; i < n; i++) {
        t[i] =
            parameters.scope() == Scope.GLOBAL
                ? (float) statistics.threshold(i)
                : parameters.prunes() ? kthSmallestMagnitude(x[i], parameters.topK()) : 0;
      }
      double[] merged = new double[length];
      long[] used = new long[n];
      if (!method.electsSign()) {
        for (int j = 0; j < length; j++) {
          double sum = 0;
          for (int i = 0; i < n; i++) {
            if (Math.abs(x[i][j]) >= t[i]) {
              sum += parameters.scaling(i) * x[i][j];
              used[i]++;
            }
          }
          merged[j] = sum;
        }
        return new MergedVector(merged, used, SignVote.NONE);
      }
      double[] elected = new double[length];
      long signSum = 0;
      for (int j = 0; j < length; j++) {
        double pruned = 0;
        for (int i = 0; i < n; i++) {
          pruned += Math.abs(x[i][j]) >= t[i] ? x[i][j] : 0;
        }
        elected[j] = Math.signum(pruned);
        signSum += (long) elected[j];
      }
      int majority =
          parameters.scope() == Scope.MODULE ? Long.signum(signSum) : statistics.majoritySign();
      boolean needsMajority = false;
      for (int j = 0; j < length; j++) {
        double sigma = elected[j] == 0 ? majority : elected[j];
        double sum = 0;
        int count = 0;
        boolean keptNonZero = false;
        for (int i = 0; i < n; i++) {
          float v = x[i][j];
          if (Math.abs(v) >= t[i] && v != 0) {
            keptNonZero = true;
            if (Math.signum(v) == sigma) {
              sum += parameters.scaling(i) * v;
              count++;
              used[i]++;
            }
          }
        }
        needsMajority |= sigma == 0 && keptNonZero;
        merged[j] = count == 0 ? 0 : sum / count;
      }
      return new MergedVector(merged, used, new SignVote(signSum, needsMajority));
    }

    /** Step 2: the k-th smallest |x| (1-based), k = d - (long) (d * K), K = topK / 100. */
    static float kthSmallestMagnitude(float[] values, double topK) {
      if (values.length == 0) {
        return 0;
      }
      float[] magnitudes = new float[values.length];
      for (int j = 0; j < values.length; j++) {
        magnitudes[j] = Math.abs(values[j]);
      }
      Arrays.sort(magnitudes);
      int k = values.length - (int) (values.length * (topK / 100));
      return magnitudes[k - 1];
    }
  }

  /**
   * Random task vectors mixing Gaussian values with the values that make exact results hard: a few
   * repeated magnitudes (ties, cancellations), signed zeros, subnormals, huge and tiny values that
   * round away in a sum, copies and negations of another task's entry; and, when {@code nonFinite},
   * infinities and NaN.
   */
  private static float[][] tasks(Random random, int n, int length, boolean nonFinite) {
    float[][] x = new float[n][length];
    float[] repeated = {0.25f, 0.5f, 1, 1.5f, 3};
    for (int j = 0; j < length; j++) {
      for (int i = 0; i < n; i++) {
        int kind = random.nextInt(20);
        float sign = random.nextBoolean() ? 1 : -1;
        x[i][j] =
            switch (kind) {
              case 0, 1, 2, 3, 4 ->
                  (float) (random.nextGaussian() * Math.pow(10, -random.nextInt(4)));
              case 5, 6, 7, 8 -> sign * repeated[random.nextInt(repeated.length)];
              case 9 -> 0f;
              case 10 -> -0f;
              case 11 -> sign * Float.MIN_VALUE * (1 + random.nextInt(8));
              case 12 -> sign * (random.nextBoolean() ? 3e30f : 1e-30f);
              case 13, 14, 15 -> i == 0 ? 1 : -x[random.nextInt(i)][j];
              case 16 -> i == 0 ? -1 : x[random.nextInt(i)][j];
              case 17 -> nonFinite ? sign * Float.POSITIVE_INFINITY : sign * 2;
              case 18 -> nonFinite ? Float.NaN : sign * 0.5f;
              default -> (float) random.nextGaussian();
            };
      }
    }
    return x;
  }

  /**
   * Per task: 0, the smallest subnormal, a magnitude that occurs in the task (so entries tie with
   * it), one of the repeated values, or the top-K threshold for a random top-K.
   */
  private static double[] thresholds(Random random, float[][] x) {
    double[] thresholds = new double[x.length];
    for (int i = 0; i < x.length; i++) {
      int length = x[i].length;
      thresholds[i] =
          switch (random.nextInt(5)) {
            case 0 -> 0;
            case 1 -> Float.MIN_VALUE;
            case 2 -> length == 0 ? 0 : Math.abs(x[i][random.nextInt(length)]);
            case 3 -> 0.5f;
            default -> Spec.kthSmallestMagnitude(x[i], 1 + random.nextInt(99));
          };
      if (Double.isNaN(thresholds[i])) {
        thresholds[i] = 1;
      }
    }
    return thresholds;
  }

  /** One scaling for all, or per task of mixed signs, zeros included. */
  private static MergeParameters parameters(Random random, int n, Scope scope, double topK) {
    List<Double> scaling = new ArrayList<>();
    if (random.nextBoolean()) {
      scaling.add(0.6);
    } else {
      double[] choices = {0.6, -0.3, 1, 0, -0.0, 1.7, -2.5, 1e-3};
      for (int i = 0; i < n; i++) {
        scaling.add(
            random.nextInt(3) == 0
                ? choices[random.nextInt(choices.length)]
                : random.nextGaussian());
      }
    }
    return MergeParameters.defaults().withTopK(topK).withScaling(scaling).withScope(scope);
  }

  private static ModuleVectors vectors(float[][] x) {
    return new ModuleVectors("m", x);
  }

  private static long[] bits(double[] values) {
    long[] bits = new long[values.length];
    for (int j = 0; j < values.length; j++) {
      bits[j] = Double.doubleToRawLongBits(values[j]);
    }
    return bits;
  }
}
