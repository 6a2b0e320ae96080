package dev.knots.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The distributed selection must equal sorting the concatenated magnitudes: exactly. */
class MagnitudeSelectionTest {

  @Test
  void matchesSortingOnRandomDataSpreadOverModules() {
    Random random = new Random(7);
    for (int trial = 0; trial < 40; trial++) {
      List<double[]> modules = new ArrayList<>();
      int moduleCount = 1 + random.nextInt(6);
      for (int m = 0; m < moduleCount; m++) {
        double[] values = new double[random.nextInt(3000)];
        for (int j = 0; j < values.length; j++) {
          values[j] = random.nextGaussian() * Math.pow(10, random.nextInt(8) - 4);
        }
        modules.add(values);
      }
      double topK = 0.5 + random.nextDouble() * 99;
      assertEquals(bruteForce(modules, topK / 100), search(modules, topK / 100), "trial " + trial);
    }
  }

  @Test
  void handlesTiesZerosAndMoreEqualValuesThanTheCandidateLimit() {
    // 200k copies of one magnitude: one bucket at every level.
    double[] equal = new double[200_000];
    Arrays.fill(equal, -0.25);
    double[] zeros = new double[5000];
    double[] mixed = {3, -3, 3, 1e-300, Double.MIN_VALUE, 0.0, -0.0, 7};
    List<double[]> modules = List.of(equal, zeros, mixed);
    for (double keep : new double[] {0.01, 0.2, 0.5, 0.97, 0.9999}) {
      assertEquals(bruteForce(modules, keep), search(modules, keep), "keep " + keep);
      // A budget too small for 200k candidates forces all four 16-bit levels.
      assertEquals(bruteForce(modules, keep), search(modules, keep, 1000), "keep " + keep);
    }
  }

  @Test
  void allZeroVectorGivesZeroThresholdSoEverythingIsKept() {
    assertEquals(0.0, search(List.of(new double[100]), 0.2));
  }

  @Test
  void keepsFloorOfDTimesKPlusOneEntriesWithoutTies() {
    Random random = new Random(11);
    double[] values = random.doubles(36864).map(v -> v - 0.5).toArray();
    double t = MagnitudeSelection.thresholdOf(values, 0.5);
    long kept = Arrays.stream(values).filter(v -> Math.abs(v) >= t).count();
    // The fixture README's worked example: 18433 of 36864 at topK 50.
    assertEquals(18433, kept);
  }

  @Test
  void summariesSurviveSerializationAsSparkShipsThem() throws Exception {
    List<double[]> modules = List.of(new Random(3).doubles(50_000).map(v -> v - 0.5).toArray());
    MagnitudeSelection search = MagnitudeSelection.keeping(0.2, 1);
    while (!search.done()) {
      MagnitudeSummary summary = search.emptySummary();
      search.accumulate(modules.get(0), summary);
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(summary);
      }
      assertTrue(bytes.size() < 64 * 1024, "only the used range ships: " + bytes.size() + " bytes");
      try (ObjectInputStream in =
          new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
        search = search.next((MagnitudeSummary) in.readObject());
      }
    }
    assertEquals(bruteForce(modules, 0.2), search.threshold());
  }

  private static double search(List<double[]> modules, double keep) {
    return search(modules, keep, 1);
  }

  /** With {@code searches} sharing the candidate budget: many force extra histogram rounds. */
  private static double search(List<double[]> modules, double keep, int searches) {
    MagnitudeSelection search = MagnitudeSelection.keeping(keep, searches);
    while (!search.done()) {
      MagnitudeSummary merged = search.emptySummary();
      for (double[] module : modules) {
        MagnitudeSummary part = search.emptySummary();
        search.accumulate(module, part);
        merged.merge(part);
      }
      search = search.next(merged);
    }
    return search.threshold();
  }

  private static double bruteForce(List<double[]> modules, double keep) {
    double[] all =
        modules.stream().flatMapToDouble(Arrays::stream).map(Math::abs).sorted().toArray();
    long d = all.length;
    long k = d - (long) (d * keep);
    return k == 0 ? 0.0 : all[(int) (k - 1)];
  }
}
