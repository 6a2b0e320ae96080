package dev.knots.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.apache.spark.SparkContext;

/** A command line run through {@link Main#run} in this JVM: its exit code and what it printed. */
record MainRun(int code, String out, String err) {

  /** Runs {@code args}, Spark started by {@code spark} only when the command needs it. */
  static MainRun of(Supplier<SparkContext> spark, String... args) {
    return of(SparkStart.onDemand(spark), args);
  }

  static MainRun of(SparkStart spark, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code =
        Main.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            spark);
    return new MainRun(
        code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
