package dev.knots.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Invariants of the merge steps, checked on random task vectors spread over modules. */
class ModuleMergeTest {
  private static final MergeMethod TA = MergeMethods.byName("ta");
  private static final MergeMethod TIES = MergeMethods.byName("ties");
  private static final MergeMethod DARE_LINEAR = MergeMethods.byName("dare-linear");

  @Test
  void keptCountPerTaskFollowsTheKthSmallestRuleOverAllModules() {
    List<ModuleVectors> modules = randomModules(new Random(1), 4, 5);
    for (double topK : new double[] {1, 10, 20, 50, 99.9}) {
      MergeParameters parameters = MergeParameters.defaults().withTopK(topK);
      MergeStatistics statistics =
          MergeStatistics.compute(TA, parameters, 4, new InMemoryModuleScan(modules));
      long[] kept = new long[4];
      for (ModuleVectors module : modules) {
        long[] perModule = ModuleMerge.merge(TA, parameters, statistics, module).usedPerTask();
        for (int i = 0; i < 4; i++) {
          kept[i] += perModule[i];
        }
      }
      long d = modules.stream().mapToLong(ModuleVectors::length).sum();
      for (int i = 0; i < 4; i++) {
        // Gaussian data has no ties, so exactly floor(d * K) + 1 entries survive.
        assertEquals((long) (d * (topK / 100)) + 1, kept[i], "task " + i + " at top-k " + topK);
      }
    }
  }

  @Test
  void moduleScopeKeepsTheRuleWithinEachModule() {
    List<ModuleVectors> modules = randomModules(new Random(2), 3, 4);
    MergeParameters parameters = MergeParameters.defaults().withTopK(20).withScope(Scope.MODULE);
    MergeStatistics statistics =
        MergeStatistics.compute(TA, parameters, 3, new InMemoryModuleScan(modules));
    for (ModuleVectors module : modules) {
      long[] kept = ModuleMerge.merge(TA, parameters, statistics, module).usedPerTask();
      for (long count : kept) {
        assertEquals((long) (module.length() * 0.2) + 1, count, module.module());
      }
    }
  }

  @Test
  void noContributingEntryDisagreesWithTheElectedSign() {
    List<ModuleVectors> modules = randomModules(new Random(3), 5, 3);
    MergeParameters parameters = MergeParameters.defaults().withTopK(30);
    MergeStatistics statistics =
        MergeStatistics.compute(TIES, parameters, 5, new InMemoryModuleScan(modules));
    for (ModuleVectors module : modules) {
      double[] merged = ModuleMerge.merge(TIES, parameters, statistics, module).values();
      for (int j = 0; j < merged.length; j++) {
        double elected = 0;
        for (int i = 0; i < 5; i++) {
          double x = module.tasks()[i][j];
          elected += Math.abs(x) >= statistics.threshold(i) ? x : 0;
        }
        if (merged[j] != 0) {
          assertEquals(
              Math.signum(elected), Math.signum(merged[j]), module.module() + "[" + j + "]");
        }
        // The disjoint mean lies within the kept entries of the elected sign.
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < 5; i++) {
          double x = module.tasks()[i][j];
          if (Math.abs(x) >= statistics.threshold(i) && Math.signum(x) == Math.signum(elected)) {
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
          }
        }
        if (merged[j] != 0) {
          assertTrue(merged[j] >= lo - 1e-15 && merged[j] <= hi + 1e-15);
        }
      }
    }
  }

  @Test
  void zeroSignsTakeTheMajoritySign() {
    // Entry 0 cancels exactly; the other entries are positive, so the majority is +1 and only
    // the positive task contributes at entry 0.
    ModuleVectors module = new ModuleVectors("m", new double[][] {{2, 1, 1, 1}, {-2, 1, 1, 1}});
    MergeParameters parameters = MergeParameters.defaults();
    MergeStatistics statistics =
        MergeStatistics.compute(TIES, parameters, 2, new InMemoryModuleScan(List.of(module)));
    assertEquals(1, statistics.majoritySign());
    assertArrayEquals(
        new double[] {2, 1, 1, 1},
        ModuleMerge.merge(TIES, parameters, statistics, module).values());
  }

  @Test
  void topK100WithEqualScalingIsThePlainScaledSum() {
    List<ModuleVectors> modules = randomModules(new Random(4), 3, 3);
    MergeParameters parameters = MergeParameters.defaults().withScaling(List.of(0.7));
    MergeStatistics statistics =
        MergeStatistics.compute(TA, parameters, 3, new InMemoryModuleScan(modules));
    for (ModuleVectors module : modules) {
      double[] merged = ModuleMerge.merge(TA, parameters, statistics, module).values();
      for (int j = 0; j < merged.length; j++) {
        double sum = 0;
        for (double[] task : module.tasks()) {
          sum += task[j];
        }
        assertEquals(0.7 * sum, merged[j], 1e-12 * Math.abs(sum) + 1e-300);
      }
    }
  }

  @Test
  void perTaskScalingWeightsEachTask() {
    ModuleVectors module = new ModuleVectors("m", new double[][] {{1, 2}, {10, 20}});
    MergeParameters parameters = MergeParameters.defaults().withScaling(List.of(2.0, 0.5));
    double[] merged = ModuleMerge.merge(TA, parameters, MergeStatistics.none(2), module).values();
    assertArrayEquals(new double[] {7, 14}, merged);
  }

  @Test
  void dareKeepsAboutOneMinusPAndRescales() {
    double p = 0.3;
    double[] values = new double[200_000];
    Arrays.fill(values, 1.0);
    Dare.apply(values, p, 42, 0, "layers.0.q_proj");
    long kept = Arrays.stream(values).filter(v -> v != 0).count();
    // Binomial(200000, 0.7): sd = 205; 5 sd either side would fail on a wrong rate.
    assertEquals(0.7 * values.length, kept, 5 * Math.sqrt(values.length * p * (1 - p)));
    assertTrue(Arrays.stream(values).allMatch(v -> v == 0 || v == 1 / (1 - p)));
  }

  @Test
  void dareMasksDependOnlyOnSeedTaskAndModule() {
    List<ModuleVectors> modules = randomModules(new Random(5), 3, 4);
    MergeParameters parameters = MergeParameters.defaults().withDare(0.5, 99);
    List<double[]> first = new ArrayList<>();
    for (ModuleVectors module : modules) {
      first.add(prepared(parameters, module)[1]);
    }
    List<ModuleVectors> shuffled = new ArrayList<>(modules);
    Collections.shuffle(shuffled, new Random(6));
    for (ModuleVectors module : shuffled) {
      assertArrayEquals(first.get(modules.indexOf(module)), prepared(parameters, module)[1]);
    }
    // Another seed, task or module name gives another mask.
    ModuleVectors module = modules.get(0);
    double[] other = prepared(parameters.withDare(0.5, 100), module)[1];
    assertTrue(!Arrays.equals(first.get(0), other));
    double[][] sameData = {module.tasks()[1].clone(), module.tasks()[1].clone()};
    double[][] both = prepared(parameters, new ModuleVectors(module.module(), sameData));
    assertTrue(!Arrays.equals(both[0], both[1]));
  }

  @Test
  void dareLeavesTheInputUntouched() {
    double[][] tasks = {{1, 2, 3}, {4, 5, 6}};
    ModuleMerge.prepare(DARE_LINEAR, MergeParameters.defaults(), "m", tasks);
    assertArrayEquals(new double[] {1, 2, 3}, tasks[0]);
  }

  @Test
  void globalStatisticsDoNotDependOnModuleOrder() {
    List<ModuleVectors> modules = randomModules(new Random(8), 4, 6);
    MergeParameters parameters = MergeParameters.defaults().withTopK(15);
    MergeStatistics forward =
        MergeStatistics.compute(TIES, parameters, 4, new InMemoryModuleScan(modules));
    List<ModuleVectors> reversed = new ArrayList<>(modules);
    Collections.reverse(reversed);
    MergeStatistics backward =
        MergeStatistics.compute(TIES, parameters, 4, new InMemoryModuleScan(reversed));
    assertArrayEquals(forward.thresholds(), backward.thresholds());
    assertEquals(forward.majoritySign(), backward.majoritySign());
  }

  private static double[][] prepared(MergeParameters parameters, ModuleVectors module) {
    return ModuleMerge.prepare(DARE_LINEAR, parameters, module.module(), module.tasks()).tasks();
  }

  private static List<ModuleVectors> randomModules(Random random, int tasks, int count) {
    List<ModuleVectors> modules = new ArrayList<>();
    for (int m = 0; m < count; m++) {
      int length = 50 + random.nextInt(500);
      double[][] vectors = new double[tasks][length];
      for (double[] vector : vectors) {
        for (int j = 0; j < length; j++) {
          vector[j] = random.nextGaussian() * (m + 1);
        }
      }
      modules.add(new ModuleVectors("layers." + m + ".proj", vectors));
    }
    return modules;
  }
}
