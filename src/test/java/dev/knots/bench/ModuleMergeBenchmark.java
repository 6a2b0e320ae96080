package dev.knots.bench;

import dev.knots.merge.InMemoryModuleScan;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.MergeStatistics;
import dev.knots.merge.MergedVector;
import dev.knots.merge.ModuleMerge;
import dev.knots.merge.ModuleVectors;
import dev.knots.merge.Scope;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Supplier;

/**
 * Timings of {@link ModuleMerge#merge}, the per-module combine step, kept apart from the tests. The
 * shape is a KnOTS-aligned module of a Llama-3-8B merge: 6 tasks of {@code 96 * 4096} float32
 * entries, top-K 20 % (thresholds at the 80th percentile of each task's magnitudes), scaling 0.6.
 * Run after {@code scripts/knots-merge} has built the classpath, with {@code java -cp
 * target/classes:$(cat target/classpath.txt) dev.knots.bench.ModuleMergeBenchmark} (only {@code
 * target/classes} is needed). Prints the median milliseconds per module after a warm-up, for each
 * method and scope (and for task arithmetic without pruning, the default); the module-scope row
 * includes that scope's own threshold selection.
 */
public final class ModuleMergeBenchmark {
  private static final int TASKS = 6;
  private static final int LENGTH = 96 * 4096;
  private static final int WARMUPS = 60;
  private static final int REPS = 41;

  private ModuleMergeBenchmark() {}

  public static void main(String[] args) {
    Random random = new Random(1);
    float[][] tasks = new float[TASKS][LENGTH];
    for (float[] task : tasks) {
      for (int j = 0; j < LENGTH; j++) {
        task[j] = (float) (random.nextGaussian() * 0.01);
      }
    }
    ModuleVectors module = new ModuleVectors("layers.0.q_proj", tasks);
    MergeParameters parameters = MergeParameters.defaults().withTopK(20).withScaling(List.of(0.6));
    for (String name : new String[] {"ties", "ta"}) {
      MergeMethod method = MergeMethods.byName(name);
      MergeStatistics statistics =
          MergeStatistics.compute(
              method, parameters, TASKS, new InMemoryModuleScan(List.of(module)));
      time(
          name + ", global scope", () -> ModuleMerge.merge(method, parameters, statistics, module));
    }
    MergeMethod ta = MergeMethods.byName("ta");
    MergeParameters keepAll = parameters.withTopK(100);
    MergeStatistics none = MergeStatistics.none(TASKS);
    time("ta, top-K 100", () -> ModuleMerge.merge(ta, keepAll, none, module));
    MergeParameters perModule = parameters.withScope(Scope.MODULE);
    MergeMethod ties = MergeMethods.byName("ties");
    time("ties, module scope", () -> ModuleMerge.merge(ties, perModule, none, module));
  }

  private static void time(String what, Supplier<MergedVector> work) {
    long sink = 0;
    for (int i = 0; i < WARMUPS; i++) {
      sink += work.get().usedPerTask()[0];
    }
    double[] ms = new double[REPS];
    for (int i = 0; i < REPS; i++) {
      long start = System.nanoTime();
      sink += work.get().usedPerTask()[0];
      ms[i] = (System.nanoTime() - start) / 1e6;
    }
    Arrays.sort(ms);
    System.out.printf(
        "%-22s %d x %d: median %6.2f ms per module (min %.2f, max %.2f) [%d]%n",
        what, TASKS, LENGTH, ms[REPS / 2], ms[0], ms[REPS - 1], sink % 10);
  }
}
