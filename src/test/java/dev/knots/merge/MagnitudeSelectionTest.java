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
      List<float[]> modules = new ArrayList<>();
      int moduleCount = 1 + random.nextInt(6);
      for (int m = 0; m < moduleCount; m++) {
        float[] values = new float[random.nextInt(3000)];
        for (int j = 0; j < values.length; j++) {
          values[j] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(8) - 4));
        }
        modules.add(values);
      }
      double topK = 0.5 + random.nextDouble() * 99;
      assertEquals(bruteForce(modules, topK / 100), search(modules, topK / 100), "trial " + trial);
    }
  }

  @Test
  void findsTheAnswerInTheLowBitsWhenManyMagnitudesShareTheHighBits() {
    // 100k distinct magnitudes within one high-bits bucket: round two must separate them.
    float[] close = new float[100_000];
    for (int j = 0; j < close.length; j++) {
      close[j] = Float.intBitsToFloat(Float.floatToRawIntBits(1.5f) + (j % 30_000)) * -1;
    }
    for (double keep : new double[] {0.01, 0.3, 0.5, 0.97}) {
      assertEquals(bruteForce(List.of(close), keep), search(List.of(close), keep), "keep " + keep);
    }
  }

  @Test
  void handlesTiesZerosSubnormalsAndSignedZeros() {
    float[] equal = new float[200_000];
    Arrays.fill(equal, -0.25f);
    float[] zeros = new float[5000];
    float[] mixed = {3, -3, 3, 1e-30f, Float.MIN_VALUE, 0.0f, -0.0f, 7, Float.MAX_VALUE};
    List<float[]> modules = List.of(equal, zeros, mixed);
    for (double keep : new double[] {0.01, 0.2, 0.5, 0.97, 0.9999}) {
      assertEquals(bruteForce(modules, keep), search(modules, keep), "keep " + keep);
    }
  }

  @Test
  void allZeroVectorGivesZeroThresholdSoEverythingIsKept() {
    assertEquals(0.0, search(List.of(new float[100]), 0.2));
  }

  @Test
  void keepsFloorOfDTimesKPlusOneEntriesWithoutTies() {
    Random random = new Random(11);
    float[] values = new float[36864];
    for (int j = 0; j < values.length; j++) {
      values[j] = random.nextFloat() - 0.5f;
    }
    double t = MagnitudeSelection.thresholdOf(values, 0.5);
    long kept = 0;
    for (float v : values) {
      kept += Math.abs(v) >= t ? 1 : 0;
    }
    // The example of docs/merging.md: 18433 of 36864 at topK 50.
    assertEquals(18433, kept);
  }

  /**
   * docs/merging.md: {@code k = d - (long) (d * K)} with {@code K = topK / 100} a float64. At topK
   * 29 and d = 100, {@code d * K} is 28.999999999999996, so 29 entries are kept, where exact
   * arithmetic ({@code floor(d * 29 / 100) + 1}) would keep 30.
   */
  @Test
  void theKeptCountFollowsTheFloat64Fraction() {
    float[] values = new float[100];
    for (int j = 0; j < values.length; j++) {
      values[j] = j + 1;
    }
    double t =
        MagnitudeSelection.thresholdOf(
            values, MergeParameters.defaults().withTopK(29).keepFraction());
    assertEquals(72.0, t);
  }

  @Test
  void summariesSurviveSerializationAsSparkShipsThem() throws Exception {
    Random random = new Random(3);
    float[] values = new float[50_000];
    for (int j = 0; j < values.length; j++) {
      values[j] = random.nextFloat() - 0.5f;
    }
    MagnitudeSelection search = MagnitudeSelection.keeping(0.2);
    int rounds = 0;
    while (!search.done()) {
      MagnitudeSummary summary = search.emptySummary();
      search.accumulate(values, summary);
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
        out.writeObject(summary);
      }
      // At most 12 bytes per non-empty bucket plus the stream's headers: never the 256 or 512 KiB
      // of a whole histogram, also in round two, whose few magnitudes span all the low bits.
      long nonEmpty = Arrays.stream(summary.counts()).filter(c -> c != 0).count();
      assertTrue(
          bytes.size() <= 12 * nonEmpty + 512,
          "only the used buckets ship: " + bytes.size() + " bytes for " + nonEmpty);
      try (ObjectInputStream in =
          new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
        search = search.next((MagnitudeSummary) in.readObject());
      }
      rounds++;
    }
    assertEquals(2, rounds, "two histogram rounds fix all 31 magnitude bits");
    assertEquals(bruteForce(List.of(values), 0.2), search.threshold());
  }

  private static double search(List<float[]> modules, double keep) {
    MagnitudeSelection search = MagnitudeSelection.keeping(keep);
    while (!search.done()) {
      MagnitudeSummary merged = search.emptySummary();
      for (float[] module : modules) {
        MagnitudeSummary part = search.emptySummary();
        search.accumulate(module, part);
        merged.merge(part);
      }
      search = search.next(merged);
    }
    return search.threshold();
  }

  private static double bruteForce(List<float[]> modules, double keep) {
    double[] all =
        modules.stream()
            .flatMapToDouble(
                m -> {
                  double[] widened = new double[m.length];
                  for (int j = 0; j < m.length; j++) {
                    widened[j] = Math.abs(m[j]);
                  }
                  return Arrays.stream(widened);
                })
            .sorted()
            .toArray();
    long d = all.length;
    long k = d - (long) (d * keep);
    return k == 0 ? 0.0 : all[(int) (k - 1)];
  }
}
