package dev.knots.spark;

import static dev.knots.linalg.TestMatrices.assertOrthonormalColumns;
import static dev.knots.linalg.TestMatrices.gaussian;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.io.safetensors.SafetensorsHeader;
import dev.knots.io.safetensors.SafetensorsWriter;
import dev.knots.io.safetensors.TensorSpec;
import dev.knots.job.AlignedModule;
import dev.knots.job.LocalRuns;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergedModule;
import dev.knots.job.ModuleAligner;
import dev.knots.job.OutputFormat;
import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.AlignPath;
import dev.knots.plan.CheckpointDeltaSource;
import dev.knots.plan.ModulePlan;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathCosts;
import dev.knots.plan.TensorDelta;
import dev.knots.plan.UpdateSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The distributed path (MLlib's Gramian of the stacked matrix, rows read by row ranges in
 * executors) against the local dense path (dgesdd on the stacked matrix, no Gramian), on local[2].
 *
 * <p>Tolerance. The dense path is backward stable: its factors reproduce {@code M} to {@code ~eps
 * ||M||}. The Gramian squares the condition number: eigenvalues {@code s_j^2} carry an absolute
 * error of about {@code eps s_max^2}, so the kept basis can turn towards the dropped (zero)
 * components by an angle of about {@code eps (s_max / s_k)^2}, {@code s_k} the smallest kept value,
 * and each {@code s_j} moves by about {@code eps s_max^2 / s_j}. We bound relative errors of the
 * reconstructed updates {@code U R_i} and of the merged update by {@code 1e3 eps cond^2 + 2^-23 +
 * 1e-12}, {@code cond = s_max / s_k} from the dense path: {@code 1e3} covers the dimension factors
 * of these small matrices (at most a few hundred), {@code 2^-23} the float32 storage of both paths'
 * representations (see {@link #tolerance}), {@code 1e-12} the float64 rounding of the products
 * themselves. U and the singular values stay float64 and are held to the Gramian bound alone. A
 * lost or extra component, or a flipped top-K entry, costs 1e-3 or more.
 */
class DistributedAlignmentTest {
  private static final double EPS = Math.ulp(1.0);
  private static SparkContext spark;
  private static JavaSparkContext jsc;

  /** The tensor name of the checkpoints {@link #denseSpec} writes. */
  private static final String WEIGHT = "weight";

  @TempDir Path temp;

  @BeforeAll
  static void start() {
    spark = LocalSpark.start("local[2]", "DistributedAlignmentTest");
    jsc = JavaSparkContext.fromSparkContext(spark);
  }

  @AfterAll
  static void stop() {
    spark.stop();
  }

  /**
   * Three shapes that, over both orientations, put the Gramian on each side: 40 x 30 (M is 40 x 90
   * or 30 x 120: Gramian M M^T), 90 x 7 (OUTPUT: M is 90 x 21, Gramian M^T M on the n I side;
   * INPUT: M M^T) and 7 x 90 (INPUT: M is 90 x 21, Gramian M^T M on the n O side). Low-rank updates
   * leave exactly-zero components for the cut to drop.
   */
  @ParameterizedTest
  @EnumSource(Concat.class)
  void randomDenseUpdatesAgreeWithTheDensePath(Concat concat) throws IOException {
    Random random = new Random(7);
    int[][] shapes = {{40, 30, 3, 5}, {90, 7, 3, 7}, {7, 90, 3, 7}, {33, 20, 4, 20}};
    for (int[] shape : shapes) {
      List<Matrix> updates = new ArrayList<>();
      for (int i = 0; i < shape[2]; i++) {
        int rank = Math.min(shape[3], Math.min(shape[0], shape[1]));
        updates.add(gaussian(shape[0], rank, random).multiply(gaussian(rank, shape[1], random)));
      }
      ModuleSpec spec = denseSpec("m" + shape[0] + "x" + shape[1], updates);
      // 4 rows a read: every task's update is split over several reads
      assertAgree(spec, concat, new DistributedAlignment.Route(true, 4));
    }
  }

  /** The route past MLlib's local-svd limit (Gramian + dsyevd), exercised on small shapes. */
  @ParameterizedTest
  @EnumSource(Concat.class)
  void theEigenRouteAgreesToo(Concat concat) throws IOException {
    Random random = new Random(8);
    for (int[] shape : new int[][] {{40, 30, 3}, {90, 7, 3}, {7, 90, 3}}) {
      List<Matrix> updates = new ArrayList<>();
      for (int i = 0; i < shape[2]; i++) {
        updates.add(gaussian(shape[0], shape[1], random));
      }
      assertAgree(
          denseSpec("eigen" + shape[0], updates), concat, new DistributedAlignment.Route(false, 5));
    }
  }

  /**
   * The fixture's eight LoRA adapters (the modules of layer 0, Gramian M M^T in both orientations)
   * and, under INPUT, its first adapter alone (k_proj and v_proj, 32 x 64: M is 64 x 32, the
   * Gramian M^T M on the n O side). The Spark job test covers every module.
   */
  @ParameterizedTest
  @EnumSource(Concat.class)
  void fixtureAdaptersAgreeWithTheDensePath(Concat concat) throws IOException {
    List<String> all = new ArrayList<>();
    for (String task : Fixtures.TASKS) {
      all.add(Fixtures.path("adapters/" + task));
    }
    List<List<String>> sets =
        concat == Concat.INPUT ? List.of(all, all.subList(0, 1)) : List.of(all);
    for (List<String> adapters : sets) {
      AdapterSet set =
          AdapterSet.open(Fixtures.STORE, adapters, LoraAdapter.UnsupportedTensors.REFUSE);
      List<AlignedModule> local = new ArrayList<>();
      List<AlignedModule> distributed = new ArrayList<>();
      for (ModuleSpec spec : set.modules().subList(0, 4)) {
        assertTrue(spec.key().startsWith("layers.0."), spec.key());
        Pair pair = assertAgree(spec, concat, new DistributedAlignment.Route(true, 16));
        local.add(pair.local());
        distributed.add(pair.distributed());
      }
      assertMergesAgree(adapters, concat, local, distributed);
    }
  }

  @Test
  void theFixtureCoversBothGramianSides() throws IOException {
    AdapterSet one =
        AdapterSet.open(
            Fixtures.STORE,
            List.of(Fixtures.path("adapters/rot90")),
            LoraAdapter.UnsupportedTensors.REFUSE);
    long nSide =
        one.modules().stream().filter(s -> !PathCosts.of(s, Concat.INPUT).gramianGivesU()).count();
    assertTrue(nSide >= 2, "k_proj and v_proj put the Gramian on the n O side under INPUT");
  }

  record Pair(AlignedModule local, AlignedModule distributed) {}

  private Pair assertAgree(ModuleSpec spec, Concat concat, DistributedAlignment.Route route)
      throws IOException {
    String what = spec.key() + " " + concat + " " + route;
    AlignedModule local =
        ModuleAligner.align(new ModulePlan(spec, AlignPath.DENSE, "test"), concat, Fixtures.STORE);
    AlignedModule distributed =
        DistributedAlignment.align(jsc, 0, spec, concat, Fixtures.STORE, d -> {}, route)
            .values()
            .first();
    assertEquals(local.components(), distributed.components(), what + ": components kept");
    assertEquals(local.basis().rows, distributed.basis().rows, what + ": U rows");
    if (local.components() == 0) {
      return new Pair(local, distributed);
    }
    assertOrthonormalColumns(distributed.basis(), what + ": U");
    double[] s = local.singularValues();
    double sMax = s[0];
    double tolerance = tolerance(s);
    for (int j = 0; j < s.length; j++) {
      // Weyl for the dense path, eps s_max^2 / s_j for the Gramian's square root
      double bound = 1e3 * EPS * sMax * sMax / s[j] + 1e-12 * sMax;
      assertEquals(s[j], distributed.singularValues()[j], bound, what + ": s[" + j + "]");
    }
    double scale = 0.0;
    for (int i = 0; i < spec.taskCount(); i++) {
      scale = Math.hypot(scale, update(local, i).frobeniusNorm());
    }
    for (int i = 0; i < spec.taskCount(); i++) {
      double error = update(distributed, i).minus(update(local, i)).frobeniusNorm() / scale;
      assertTrue(
          error <= tolerance,
          what + ": U R_" + i + " differs from the dense path by " + error + " > " + tolerance);
    }
    return new Pair(local, distributed);
  }

  /** A knots-ties merge (top-K 20, global scope) of both alignments gives the same updates. */
  private static void assertMergesAgree(
      List<String> adapters, Concat concat, List<AlignedModule> local, List<AlignedModule> dist) {
    MergeRequest request =
        new MergeRequest(
            adapters,
            MergeMethods.byName("knots-ties"),
            MergeParameters.defaults().withTopK(20).withScaling(List.of(0.6)),
            concat,
            "unused",
            OutputFormat.ADAPTER,
            Optional.empty());
    List<MergedModule> viaLocal = LocalRuns.mergeAligned(request, local);
    List<MergedModule> viaDistributed = LocalRuns.mergeAligned(request, dist);
    for (int m = 0; m < viaLocal.size(); m++) {
      Matrix want = viaLocal.get(m).update();
      double error =
          viaDistributed.get(m).update().minus(want).frobeniusNorm() / want.frobeniusNorm();
      double tolerance = tolerance(local.get(m).singularValues());
      assertTrue(
          error <= tolerance,
          local.get(m).key() + " " + concat + ": merged update differs by " + error);
    }
  }

  /**
   * The Gramian's error (see the class comment) plus the float32 storage of representations: each
   * path rounds its R_i to float32 (relative 2^-24 per entry), and U is orthonormal, so the
   * reconstructions of two paths can differ by up to 2 * 2^-24 relative even where their float64
   * values agree. Still far below the 1e-3 that a lost component or a flipped top-K entry costs.
   */
  private static double tolerance(double[] s) {
    double cond = s[0] / s[s.length - 1];
    return 1e3 * EPS * cond * cond + 2 * 0x1p-24 + 1e-12;
  }

  /** Task {@code i}'s update {@code orient(U R_i)}, O x I. */
  private static Matrix update(AlignedModule module, int task) {
    int width = module.representationCols();
    float[] stored = module.representations()[task];
    double[] values = new double[stored.length];
    for (int j = 0; j < stored.length; j++) {
      values[j] = stored[j];
    }
    Matrix r = new Matrix(module.components(), width, values);
    Matrix oriented = module.basis().multiply(r);
    return module.concat() == Concat.OUTPUT ? oriented : oriented.transpose();
  }

  /**
   * The module with each update read as a fine-tuned checkpoint's change: the update itself over an
   * all-zero base, so the source reads back exactly {@code dW - 0 = dW}.
   */
  private ModuleSpec denseSpec(String key, List<Matrix> updates) throws IOException {
    int out = updates.get(0).rows;
    int in = updates.get(0).cols;
    SafetensorsHeader base = writeWeight(key + "-base", Matrix.zeros(out, in));
    List<UpdateSource> sources = new ArrayList<>();
    for (int i = 0; i < updates.size(); i++) {
      String task = key + "-task" + i;
      SafetensorsHeader finetuned = writeWeight(task, updates.get(i));
      sources.add(
          new CheckpointDeltaSource(new TensorDelta(task, WEIGHT, finetuned, base), out, in));
    }
    return new ModuleSpec(key, out, in, sources);
  }

  /** Writes {@code values} as the float64 tensor {@link #WEIGHT} of {@code name.safetensors}. */
  private SafetensorsHeader writeWeight(String name, Matrix values) throws IOException {
    String location = temp.resolve(name + ".safetensors").toString();
    TensorSpec spec = TensorSpec.matrix(WEIGHT, DType.F64, values.rows, values.cols);
    try (SafetensorsWriter writer =
        SafetensorsWriter.open(Fixtures.STORE.outputFile(location), List.of(spec), Map.of())) {
      writer.write(WEIGHT, values.toRowMajor());
    }
    return SafetensorsHeader.read(Fixtures.STORE.inputFile(location));
  }
}
