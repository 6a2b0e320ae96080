package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.hadoop.RoutingFileStore;
import dev.knots.job.MergeReport;
import dev.knots.job.MergeRequest;
import dev.knots.job.MergeRunner;
import dev.knots.job.PlannedMerge;
import dev.knots.job.RunOptions;
import java.io.IOException;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.SparkContext;
import scala.Tuple2;

/** Runs a merge on a test's Spark context as the command line does, without the command line. */
public final class SparkRuns {

  private SparkRuns() {}

  /** Checks, plans and runs {@code request} on {@code spark}; returns its committed report. */
  public static MergeReport run(SparkContext spark, MergeRequest request, RunOptions options)
      throws IOException {
    return run(spark, request, options, new RoutingFileStore(spark.hadoopConfiguration()));
  }

  /** As {@link #run(SparkContext, MergeRequest, RunOptions)}, through {@code store}. */
  public static <S extends FileStore & Serializable> MergeReport run(
      SparkContext spark, MergeRequest request, RunOptions options, S store) throws IOException {
    request.checkLocations(store);
    PlannedMerge planned =
        PlannedMerge.prepare(
            request, options.unsupported(), options.paths().resolve(conf(spark)), store);
    try (SparkEngine engine = SparkEngine.start(spark, store)) {
      return new MergeRunner(engine, options.overwrite()).run(planned);
    }
  }

  /** The context's configuration, as the planner's budgets read it. */
  public static Map<String, String> conf(SparkContext spark) {
    Map<String, String> conf = new LinkedHashMap<>();
    for (Tuple2<String, String> entry : spark.getConf().getAll()) {
      conf.put(entry._1(), entry._2());
    }
    return conf;
  }
}
