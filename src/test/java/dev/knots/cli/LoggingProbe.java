package dev.knots.cli;

import java.io.IOException;
import org.slf4j.LoggerFactory;

/**
 * Run in a fresh JVM with conf/log4j2.properties by {@link TerminalOutputTest}: logs what a merge's
 * run logs (progress quoting a hostile tensor name, Spark's report of a failed task, a library's
 * warning with a cause), reports an unexpected failure as Main does, and prints the details file
 * the program finds.
 */
public final class LoggingProbe {
  static final String HOSTILE = "q_proj\u001b[31m\n12:00:00 ERROR forged: line";

  private LoggingProbe() {}

  public static void main(String[] args) {
    LoggerFactory.getLogger("knots-merge").info("Aligned module {}", HOSTILE);
    LoggerFactory.getLogger("org.apache.spark.scheduler.TaskSetManager")
        .warn(
            "Lost task 0.0 in stage 0.0 (TID 0)",
            new IOException("Cannot use adapter a: tensor '" + HOSTILE + "' has NaN"));
    LoggerFactory.getLogger("org.apache.hadoop.fs.FileSystem")
        .warn("Cannot close a stream", new IOException("Stream closed"));
    ErrorOutput.print(System.err, new IllegalStateException("a bug"));
    System.out.println(ErrorOutput.detailsFile().orElseThrow());
  }
}
