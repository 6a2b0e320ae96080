package dev.knots.bench;

import dev.knots.bench.SyntheticAdapters.Spec;
import dev.knots.io.LocalFileStore;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.safetensors.DType;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergeRunner;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.knots.Concat;
import dev.knots.linalg.Matrix;
import dev.knots.linalg.Netlib;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.plan.AdapterSet;
import dev.knots.plan.AlignPath;
import dev.knots.plan.ModuleSpec;
import dev.knots.plan.PathRequest;
import dev.knots.spark.SparkRuns;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.IntStream;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.status.api.v1.ExecutorSummary;
import scala.jdk.javaapi.CollectionConverters;

/**
 * The same knots-ties merge down a local path and down the distributed path, on one Spark context:
 * wall time, peak heap and the agreement of the merged updates. Two cases: {@code dense}, full-rank
 * LoRA updates (rank = hidden, so every {@code dW} is dense) merged with the dense path vs
 * distributed; {@code lora}, a large pool of LoRA adapters merged with the factor path vs
 * distributed. Run through {@code scripts/benchmark-paths}, which documents the options.
 *
 * <p>Peak heap is the driver JVM's heap pools' peak, reset before each run. On a {@code local[...]}
 * master the executors live in the driver's JVM, so this is driver and executors together; on a
 * cluster master ({@code local-cluster[...]}, {@code spark://...}) each run gets its own Spark
 * context, so its own executors, and the executors' peak heap is reported too: the largest {@code
 * JVMHeapMemory} any executor reported, sampled every 200 ms.
 */
public final class PathBenchmark {

  private PathBenchmark() {}

  public static void main(String[] args) throws IOException, InterruptedException {
    Map<String, String> o = options(args);
    // absolute, so that executor JVMs (started in their own directories) find the sets
    Path work = Path.of(o.get("--work")).toAbsolutePath();
    int layers = Integer.parseInt(o.get("--layers"));
    String master = o.get("--master");
    System.out.println(
        "case     path         seconds  driver heap  executor heap  max rel. diff vs first path");
    if (!o.get("--case").equals("lora")) {
      int hidden = Integer.parseInt(o.get("--dense-hidden"));
      Spec dense =
          new Spec(
              Integer.parseInt(o.get("--dense-adapters")),
              layers,
              hidden,
              hidden,
              hidden,
              hidden,
              DType.F32,
              1);
      run(master, "dense", work.resolve("dense"), dense, AlignPath.DENSE);
    }
    if (!o.get("--case").equals("dense")) {
      int rank = Integer.parseInt(o.get("--lora-rank"));
      int hidden = Integer.parseInt(o.get("--lora-hidden"));
      Spec pool =
          new Spec(
              Integer.parseInt(o.get("--lora-adapters")),
              layers,
              hidden,
              Math.max(rank, hidden / 4),
              rank,
              2.0 * rank,
              DType.F32,
              2);
      run(master, "lora", work.resolve("lora"), pool, AlignPath.FACTOR);
    }
  }

  /** A context whose executors report their heap often enough to catch a run's peak. */
  private static SparkContext context(String master) {
    return new SparkContext(
        new SparkConf()
            .setMaster(master)
            .setAppName("knots-path-benchmark")
            .set("spark.ui.enabled", "false")
            .set("spark.executor.metrics.pollingInterval", "200ms")
            .set("spark.executor.heartbeatInterval", "1s"));
  }

  /** The largest heap any executor (not the driver) reported, or -1 if they share its JVM. */
  private static long executorPeakHeap(SparkContext spark) throws InterruptedException {
    if (spark.isLocal()) {
      return -1;
    }
    Thread.sleep(2500); // the last heartbeats carry the last samples
    long peak = 0;
    for (ExecutorSummary executor :
        CollectionConverters.asJava(spark.statusStore().executorList(false))) {
      if (!executor.id().equals("driver") && executor.peakMemoryMetrics().isDefined()) {
        peak = Math.max(peak, executor.peakMemoryMetrics().get().getMetricValue("JVMHeapMemory"));
      }
    }
    return peak;
  }

  /** Merges {@code spec}'s set down {@code local}, then distributed; prints one line for each. */
  private static void run(String master, String name, Path dir, Spec spec, AlignPath local)
      throws IOException, InterruptedException {
    LocalFileStore store = new LocalFileStore();
    // one directory per spec, so a set is generated once and never mixed with another
    String adapters =
        dir.resolve(
                String.format(
                    Locale.ROOT,
                    "%d-adapters-h%d-kv%d-r%d-%d-layers",
                    spec.adapters(),
                    spec.hidden(),
                    spec.kv(),
                    spec.rank(),
                    spec.layers()))
            .toString();
    if (!SyntheticAdapters.isComplete(store, adapters, spec, false)) {
      SyntheticAdapters.writeSet(store, adapters, spec, false);
    }
    List<String> locations =
        IntStream.range(0, spec.adapters())
            .mapToObj(i -> store.resolve(adapters, SyntheticAdapters.adapterName(i)))
            .toList();
    Map<String, Matrix> reference = null;
    for (AlignPath path : List.of(local, AlignPath.DISTRIBUTED)) {
      String output = dir.resolve("merged-" + path.label()).toString();
      MergeRequest request =
          new MergeRequest(
              locations,
              MergeMethods.byName("knots-ties"),
              MergeParameters.defaults().withTopK(20).withScaling(List.of(0.6)),
              Concat.OUTPUT,
              output,
              OutputFormat.ADAPTER,
              Optional.empty());
      // the heap is the only limit that matters here: budget it all, so no forced path is refused
      long heap = Runtime.getRuntime().maxMemory();
      RunOptions options =
          new RunOptions(
              true,
              LoraAdapter.UnsupportedTensors.REFUSE,
              new PathRequest(Optional.of(path), OptionalLong.of(heap), OptionalLong.of(heap)));
      SparkContext spark = context(master);
      resetPeakHeap();
      long start = System.nanoTime();
      SparkRuns.run(spark, request, options);
      double seconds = (System.nanoTime() - start) / 1e9;
      long peak = MergeRunner.peakHeapBytes();
      long executorPeak = executorPeakHeap(spark);
      List<String> linearAlgebra = linearAlgebraOfEachJvm(spark);
      spark.stop();
      Map<String, Matrix> updates = updates(store, output);
      String agreement = "-";
      if (reference == null) {
        reference = updates;
      } else {
        agreement = String.format(Locale.ROOT, "%.2e", maxRelativeDifference(reference, updates));
      }
      System.out.printf(
          Locale.ROOT,
          "%-8s %-12s %7.1f  %7d MiB  %13s  %s%n",
          name,
          path.label(),
          seconds,
          peak >> 20,
          executorPeak < 0 ? "(in driver)" : (executorPeak >> 20) + " MiB",
          agreement);
      linearAlgebra.forEach(jvm -> System.out.println("  " + jvm));
    }
  }

  /**
   * The BLAS and LAPACK each JVM that runs tasks loaded, and from where, as one line per JVM: a
   * small job with more tasks than executors, so that each runs some.
   */
  private static List<String> linearAlgebraOfEachJvm(SparkContext spark) {
    int tasks = 4 * Math.max(1, spark.defaultParallelism());
    return JavaSparkContext.fromSparkContext(spark)
        .parallelize(IntStream.range(0, tasks).boxed().toList(), tasks)
        .map(
            i ->
                String.format(
                    Locale.ROOT,
                    "JVM %s: BLAS %s, LAPACK %s (%s)",
                    ManagementFactory.getRuntimeMXBean().getName(),
                    Netlib.blas().getClass().getSimpleName(),
                    Netlib.lapack().getClass().getSimpleName(),
                    System.getProperty("dev.ludovic.netlib.lapack.nativeLibPath", "no library")))
        .distinct()
        .collect()
        .stream()
        .sorted()
        .toList();
  }

  private static Map<String, Matrix> updates(LocalFileStore store, String adapter)
      throws IOException {
    AdapterSet merged =
        AdapterSet.open(store, List.of(adapter), LoraAdapter.UnsupportedTensors.REFUSE);
    Map<String, Matrix> updates = new HashMap<>();
    for (ModuleSpec module : merged.modules()) {
      updates.put(module.key(), module.source(0).orElseThrow().read(store).delta());
    }
    return updates;
  }

  /** {@code max_m ||a_m - b_m||_F / ||a_m||_F} over the modules. */
  private static double maxRelativeDifference(Map<String, Matrix> a, Map<String, Matrix> b) {
    double worst = 0;
    for (Map.Entry<String, Matrix> e : a.entrySet()) {
      Matrix other = b.get(e.getKey());
      worst =
          Math.max(worst, e.getValue().minus(other).frobeniusNorm() / e.getValue().frobeniusNorm());
    }
    return worst;
  }

  private static void resetPeakHeap() {
    System.gc();
    ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> o = new HashMap<>();
    o.put("--work", "target/bench-paths");
    o.put("--master", "local[2]");
    o.put("--case", "both");
    o.put("--layers", "2");
    o.put("--dense-adapters", "8");
    o.put("--dense-hidden", "512");
    o.put("--lora-adapters", "32");
    o.put("--lora-rank", "64");
    o.put("--lora-hidden", "1024");
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (!o.containsKey(args[i])) {
        throw new IllegalArgumentException(
            "Unknown option " + args[i] + "; known: " + String.join(" ", o.keySet()));
      }
      o.put(args[i], args[i + 1]);
    }
    return o;
  }
}
