package dev.knots.spark;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs done/total tasks and elapsed time for the merge's Spark jobs, so a long run shows where it
 * is: "align: 12/80 tasks done, 41.2 s into the merge". At most one line per 10 s per job, plus one
 * when it completes.
 */
final class ProgressListener extends SparkListener {
  private static final Logger LOG = LoggerFactory.getLogger("knots-merge");
  private static final long QUIET_NANOS = 10_000_000_000L;

  private final String jobGroup;
  private final long start = System.nanoTime();
  private final AtomicInteger done = new AtomicInteger();
  private volatile int total;
  private volatile String description = "";
  private volatile long lastLog;

  ProgressListener(String jobGroup) {
    this.jobGroup = jobGroup;
  }

  @Override
  public void onJobStart(SparkListenerJobStart jobStart) {
    String group = jobStart.properties().getProperty("spark.jobGroup.id");
    if (!jobGroup.equals(group)) {
      return;
    }
    description = jobStart.properties().getProperty("spark.job.description", "merge");
    int tasks = 0;
    for (var stage : scala.jdk.javaapi.CollectionConverters.asJava(jobStart.stageInfos())) {
      tasks += stage.numTasks();
    }
    total = tasks;
    done.set(0);
    lastLog = System.nanoTime();
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd taskEnd) {
    if (total == 0 || !taskEnd.taskInfo().successful()) {
      return;
    }
    int finished = done.incrementAndGet();
    long now = System.nanoTime();
    if (finished == total || now - lastLog > QUIET_NANOS) {
      lastLog = now;
      LOG.info(
          String.format(
              Locale.ROOT,
              "%s: %d/%d tasks done, %.1f s into the merge",
              description,
              finished,
              total,
              (now - start) / 1e9));
    }
  }
}
