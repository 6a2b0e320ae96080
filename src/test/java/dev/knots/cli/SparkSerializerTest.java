package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.spark.SparkEngine;
import dev.knots.spark.SparkRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job's records need Java serialization: the command line's own Spark context overrides a
 * cluster-wide Kryo setting, and the job refuses a context made with another serializer before it
 * does anything. The context also gives executors one OpenBLAS thread each, unless the user set it.
 */
class SparkSerializerTest {
  private static final String KRYO = "org.apache.spark.serializer.KryoSerializer";

  @TempDir Path temp;

  @Test
  void theCommandLineContextUsesJavaSerializationAndOneBlasThreadPerExecutor() {
    // spark-submit hands spark-defaults.conf to the driver as system properties
    Map<String, String> properties =
        Map.of(
            "spark.serializer", KRYO,
            "spark.master", "local[1]",
            "spark.ui.enabled", "false",
            "spark.driver.host", "127.0.0.1",
            "spark.driver.bindAddress", "127.0.0.1");
    properties.forEach(System::setProperty);
    SparkContext context = null;
    try {
      context = Main.sparkContext();
      assertEquals(SparkEngine.SERIALIZER, context.conf().get("spark.serializer"));
      assertEquals("1", context.conf().get("spark.executorEnv.OPENBLAS_NUM_THREADS"));
    } finally {
      properties.keySet().forEach(System::clearProperty);
      if (context != null) {
        context.stop();
      }
    }
  }

  @Test
  void theJobRefusesAKryoContextBeforeWritingAnything() {
    SparkContext kryo =
        new SparkContext(
            LocalSpark.conf("local[1]", "SparkSerializerTest").set("spark.serializer", KRYO));
    Path output = temp.resolve("merged");
    MergeRequest request =
        new MergeRequest(
            List.of(Fixtures.path("adapters/rot90"), Fixtures.path("adapters/hflip")),
            MergeMethods.byName("knots-ties"),
            MergeParameters.defaults().withTopK(20),
            Concat.OUTPUT,
            output.toString(),
            OutputFormat.ADAPTER,
            Optional.empty());
    try {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> SparkRuns.run(kryo, request, RunOptions.defaults()));
      assertTrue(
          e.getMessage().contains("spark.serializer=" + KRYO)
              && e.getMessage().contains(SparkEngine.SERIALIZER),
          e.getMessage());
      assertFalse(Files.exists(output), "nothing at the destination");
    } finally {
      kryo.stop();
    }
  }
}
