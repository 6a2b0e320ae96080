package dev.knots.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The statistics of many merges over the same vectors, computed together. */
class MergeStatisticsTest {

  /** Counts the folds over some modules. */
  private static final class CountedScan implements ModuleScan {
    private final InMemoryModuleScan scan;
    int folds;

    CountedScan(List<ModuleVectors> modules) {
      scan = new InMemoryModuleScan(modules);
    }

    @Override
    public <S extends Mergeable<S> & Serializable> S aggregate(S zero, Fold<S> add) {
      folds++;
      return scan.aggregate(zero, add);
    }
  }

  private static List<ModuleVectors> modules(Random random) {
    List<ModuleVectors> modules = new ArrayList<>();
    for (int m = 0; m < 6; m++) {
      int length = 40 + random.nextInt(300);
      float[][] tasks = new float[3][length];
      for (float[] task : tasks) {
        for (int j = 0; j < length; j++) {
          // a few exact cancellations, so that some entries need the majority sign
          task[j] = j % 17 == 0 ? (float) Math.pow(-1, m) : (float) random.nextGaussian();
        }
      }
      modules.add(new ModuleVectors("layers." + m + ".proj", tasks));
    }
    return modules;
  }

  @Test
  void manyMergesTogetherGetWhatEachGetsAloneInTheFoldsOfOne() {
    List<ModuleVectors> modules = modules(new Random(7));
    List<MergeStatistics.Wanted> merges = new ArrayList<>();
    for (String method : List.of("ties", "ta")) {
      for (double topK : new double[] {10, 20, 35, 100}) {
        for (double scaling : new double[] {0.3, 1.0}) {
          merges.add(
              new MergeStatistics.Wanted(
                  MergeMethods.byName(method),
                  MergeParameters.defaults().withTopK(topK).withScaling(List.of(scaling))));
        }
      }
    }
    merges.add(
        new MergeStatistics.Wanted(
            MergeMethods.byName("ties"),
            MergeParameters.defaults().withTopK(20).withScope(Scope.MODULE)));
    CountedScan together = new CountedScan(modules);
    List<MergeStatistics> all = MergeStatistics.computeAll(merges, 3, together);

    // two histogram rounds for every fraction, one vote for every set of thresholds
    assertEquals(3, together.folds);
    for (int m = 0; m < merges.size(); m++) {
      MergeStatistics.Wanted merge = merges.get(m);
      MergeStatistics alone =
          MergeStatistics.compute(
              merge.method(), merge.parameters(), 3, new InMemoryModuleScan(modules));
      assertArrayEquals(alone.thresholds(), all.get(m).thresholds(), merge.toString());
      assertEquals(alone.majoritySign(), all.get(m).majoritySign(), merge.toString());
    }
  }

  @Test
  void theVoteAloneIsTheVoteOfAMergeWithTheMajorityPending() {
    Random random = new Random(11);
    float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f};
    MergeParameters parameters = MergeParameters.defaults().withTopK(30);
    for (int trial = 0; trial < 40; trial++) {
      int length = 1 + random.nextInt(3000);
      float[][] tasks = new float[1 + random.nextInt(5)][length];
      for (float[] task : tasks) {
        for (int j = 0; j < length; j++) {
          task[j] = (float) Math.rint(random.nextGaussian() * 3);
          if (trial % 4 == 0 && random.nextInt(500) == 0) {
            task[j] = special[random.nextInt(special.length)];
          }
        }
      }
      ModuleVectors module = new ModuleVectors("m", tasks);
      double[] thresholds = new double[tasks.length];
      for (int i = 0; i < thresholds.length; i++) {
        thresholds[i] = random.nextInt(3);
      }
      MergeStatistics pending = new MergeStatistics(thresholds, 0);
      assertEquals(
          ModuleMerge.combine(MergeMethods.byName("ties"), parameters, pending, module).vote(),
          ModuleMerge.vote(parameters, pending, module),
          "trial " + trial);
    }
  }
}
