package dev.knots.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

  /**
   * Each task's vector fits float32, but their scaled sum does not: the merge fails naming the
   * module, the input that contributes most and its coefficient, not the output writer later.
   */
  @Test
  void aMergedEntryBeyondFloat32FailsNamingModuleInputAndScaling() {
    ModuleVectors module =
        new ModuleVectors("layers.0.q_proj", new float[][] {{1, 1e38f}, {0, 3e38f}});
    MergeParameters parameters = MergeParameters.defaults().withScaling(List.of(1.0, 1.0));
    MergeStatistics statistics =
        MergeStatistics.compute(TA, parameters, 2, new InMemoryModuleScan(List.of(module)));
    InvalidOptionException e =
        assertThrows(
            InvalidOptionException.class,
            () -> ModuleMerge.merge(TA, parameters, statistics, module));
    assertEquals(
        "Invalid --scaling 1.0: the merge of layers.0.q_proj reaches 4.000e+38 at entry 1,"
            + " beyond float32's largest value (3.4028235E38), the type of the merged output; most"
            + " of it comes from input 2 (in the order of --adapters or --finetuned), whose update"
            + " there times this coefficient is 3.000e+38. Lower its coefficient.",
        e.getMessage());
    MergeParameters dare = parameters.withDare(0.5, 0);
    assertTrue(
        assertThrows(
                InvalidOptionException.class,
                () -> ModuleMerge.merge(DARE_LINEAR, dare, statistics, module))
            .getMessage()
            .endsWith(
                "Lower its coefficient, or --dare-drop, as DARE multiplies the entries it keeps by"
                    + " 1 / (1 - p)."));
  }

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
  void tiesEqualsTheSpecEntryByEntryForFewAndForMoreThan64Tasks() {
    for (int tasks : new int[] {5, 70}) {
      List<ModuleVectors> modules = randomModules(new Random(tasks), tasks, 2);
      MergeParameters parameters = MergeParameters.defaults().withTopK(30);
      MergeStatistics statistics =
          MergeStatistics.compute(TIES, parameters, tasks, new InMemoryModuleScan(modules));
      for (ModuleVectors module : modules) {
        MergedVector got = ModuleMerge.merge(TIES, parameters, statistics, module);
        long[] used = new long[tasks];
        for (int j = 0; j < module.length(); j++) {
          // docs/merging.md, literally: elect the sign of the pruned sum, then the disjoint mean.
          double elected = 0;
          for (int i = 0; i < tasks; i++) {
            float x = module.tasks()[i][j];
            elected += Math.abs(x) >= statistics.threshold(i) ? x : 0;
          }
          double sum = 0;
          int count = 0;
          for (int i = 0; i < tasks; i++) {
            float x = module.tasks()[i][j];
            if (Math.abs(x) >= statistics.threshold(i) && Math.signum(x) == Math.signum(elected)) {
              sum += x;
              count++;
              used[i]++;
            }
          }
          // Same additions in the same order: exact.
          assertEquals(count == 0 ? 0 : sum / count, got.values()[j], 0.0, tasks + " tasks");
        }
        assertArrayEquals(used, got.usedPerTask(), tasks + " tasks");
      }
    }
  }

  @Test
  void zeroSignsTakeTheMajoritySignTheStatisticsVoteOn() {
    // Entry 0 cancels exactly; the other entries are positive, so the majority is +1 and only
    // the positive task contributes at entry 0, as docs/merging.md says. A pass with the majority
    // counted as 0 (the statistics' vote) leaves entry 0 out and says that the majority decides it.
    ModuleVectors module = new ModuleVectors("m", new float[][] {{2, 1, 1, 1}, {-2, 1, 1, 1}});
    MergeParameters parameters = MergeParameters.defaults();
    MergeStatistics statistics =
        MergeStatistics.compute(TIES, parameters, 2, new InMemoryModuleScan(List.of(module)));
    assertEquals(1, statistics.majoritySign());
    assertArrayEquals(
        new double[] {2, 1, 1, 1},
        ModuleMerge.merge(TIES, parameters, statistics, module).values());
    MergedVector pending =
        ModuleMerge.merge(
            TIES, parameters, new MergeStatistics(statistics.thresholds(), 0), module);
    assertArrayEquals(new double[] {0, 1, 1, 1}, pending.values());
    assertEquals(new SignVote(3, true), pending.vote());
  }

  @Test
  void theMajoritySignIsVotedOverEveryModule() {
    // Alone, the first module would vote -1; the second outvotes it, so its cancelling entry 0
    // takes +1, the global majority.
    ModuleVectors cancelling = new ModuleVectors("a", new float[][] {{2, -1}, {-2, -1}});
    ModuleVectors positive = new ModuleVectors("b", new float[][] {{1, 1, 1}, {1, 1, 1}});
    MergeParameters parameters = MergeParameters.defaults();
    MergeStatistics statistics =
        MergeStatistics.compute(
            TIES, parameters, 2, new InMemoryModuleScan(List.of(cancelling, positive)));
    assertEquals(1, statistics.majoritySign());
    assertArrayEquals(
        new double[] {2, -1}, ModuleMerge.merge(TIES, parameters, statistics, cancelling).values());
  }

  @Test
  void aPassWhereNoEntryCancelsStandsWithoutTheMajority() {
    ModuleVectors module = new ModuleVectors("m", new float[][] {{2, -1, 0, 1}, {-1, 1, 0, 1}});
    MergeParameters parameters = MergeParameters.defaults();
    MergeStatistics pending = MergeStatistics.none(2);
    MergedVector pass = ModuleMerge.merge(TIES, parameters, pending, module);
    // Entry 1 cancels with kept non-zero entries, so the majority decides it; entry 2 is all
    // zero, which nothing can change.
    assertEquals(new SignVote(2, true), pass.vote());
    ModuleVectors noCancel = new ModuleVectors("m", new float[][] {{2, 0, 1}, {-1, 0, 1}});
    MergedVector clean = ModuleMerge.merge(TIES, parameters, pending, noCancel);
    assertEquals(new SignVote(2, false), clean.vote());
    assertArrayEquals(
        clean.values(),
        ModuleMerge.merge(TIES, parameters, new MergeStatistics(new double[2], -1), noCancel)
            .values(),
        "no entry needs the majority, so any majority gives the same merge");
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
        for (float[] task : module.tasks()) {
          sum += task[j];
        }
        assertEquals(0.7 * sum, merged[j], 1e-12 * Math.abs(sum) + 1e-300);
      }
    }
  }

  @Test
  void perTaskScalingWeightsEachTask() {
    ModuleVectors module = new ModuleVectors("m", new float[][] {{1, 2}, {10, 20}});
    MergeParameters parameters = MergeParameters.defaults().withScaling(List.of(2.0, 0.5));
    double[] merged = ModuleMerge.merge(TA, parameters, MergeStatistics.none(2), module).values();
    assertArrayEquals(new double[] {7, 14}, merged);
  }

  @Test
  void dareKeepsAboutOneMinusPAndRescales() {
    double p = 0.3;
    float[] values = new float[200_000];
    Arrays.fill(values, 1.0f);
    Dare.apply(values, p, 42, 0, "layers.0.q_proj");
    long kept = 0;
    for (float v : values) {
      kept += v != 0 ? 1 : 0;
      assertTrue(v == 0 || v == (float) (1 / (1 - p)), "dropped or rescaled: " + v);
    }
    // Binomial(200000, 0.7): sd = 205; 5 sd either side would fail on a wrong rate.
    assertEquals(0.7 * values.length, kept, 5 * Math.sqrt(values.length * p * (1 - p)));
  }

  @Test
  void dareMasksDependOnlyOnSeedTaskAndModule() {
    List<ModuleVectors> modules = randomModules(new Random(5), 3, 4);
    MergeParameters parameters = MergeParameters.defaults().withDare(0.5, 99);
    List<float[]> first = new ArrayList<>();
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
    float[] other = prepared(parameters.withDare(0.5, 100), module)[1];
    assertTrue(!Arrays.equals(first.get(0), other));
    float[][] sameData = {module.tasks()[1].clone(), module.tasks()[1].clone()};
    float[][] both = prepared(parameters, new ModuleVectors(module.module(), sameData));
    assertTrue(!Arrays.equals(both[0], both[1]));
  }

  @Test
  void methodsWithoutDareLeaveTheRepresentationsUntouched() {
    float[][] tasks = {{1, 2, 3}, {4, 5, 6}};
    ModuleVectors vectors = ModuleMerge.prepare(TIES, MergeParameters.defaults(), "m", tasks);
    assertArrayEquals(new float[] {1, 2, 3}, vectors.tasks()[0]);
    assertArrayEquals(new float[] {4, 5, 6}, vectors.tasks()[1]);
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

  /** DARE of copies of the module's vectors (prepare drops in place). */
  private static float[][] prepared(MergeParameters parameters, ModuleVectors module) {
    float[][] copies = new float[module.taskCount()][];
    for (int i = 0; i < copies.length; i++) {
      copies[i] = module.tasks()[i].clone();
    }
    return ModuleMerge.prepare(DARE_LINEAR, parameters, module.module(), copies).tasks();
  }

  private static List<ModuleVectors> randomModules(Random random, int tasks, int count) {
    List<ModuleVectors> modules = new ArrayList<>();
    for (int m = 0; m < count; m++) {
      int length = 50 + random.nextInt(500);
      float[][] vectors = new float[tasks][length];
      for (float[] vector : vectors) {
        for (int j = 0; j < length; j++) {
          vector[j] = (float) (random.nextGaussian() * (m + 1));
        }
      }
      modules.add(new ModuleVectors("layers." + m + ".proj", vectors));
    }
    return modules;
  }
}
