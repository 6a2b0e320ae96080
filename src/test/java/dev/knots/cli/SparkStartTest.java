package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Starting Spark in the background while the driver parses and plans. No real context: the
 * suppliers here stand in for {@code getOrCreate}, which {@code MainSparkTest} runs for real;
 * {@code MainTest} shows that a plan that cannot run does not wait for a start in the background.
 */
class SparkStartTest {
  @ParameterizedTest
  @CsvSource({
    "'merge --adapters a,b --method ties --output o', true",
    "'merge --adapters a,b --method ties --output o --dry-run', false",
    "'merge --help', false",
    "'merge -h', false",
    "'--help', false",
    "'', false",
    "'merge-all --adapters a', false"
  })
  void onlyAMergeThatRunsNeedsSpark(String commandLine, boolean needed) {
    String[] args = commandLine.isEmpty() ? new String[0] : commandLine.split(" ");
    assertEquals(needed, SparkStart.needed(args), commandLine);
  }

  @Test
  void aBackgroundStartBeginsAtOnceAndTimesOnlyItself() throws Exception {
    CountDownLatch begun = new CountDownLatch(1);
    SparkStart start =
        SparkStart.inBackground(
            () -> {
              begun.countDown();
              sleep(200);
              return null;
            });
    assertTrue(begun.await(10, TimeUnit.SECONDS), "the start began before anyone asked");
    Thread.sleep(1500); // the driver's own work, longer than the start
    assertNull(start.context());
    // 200 ms of start, not the 1.5 s the driver took; generous bounds for a busy machine
    double seconds = start.seconds();
    assertTrue(seconds >= 0.19 && seconds < 1.2, "start took " + seconds + " s");
  }

  @Test
  void anOnDemandStartRunsOnceWhenAskedFor() {
    AtomicInteger starts = new AtomicInteger();
    SparkStart start =
        SparkStart.onDemand(
            () -> {
              starts.incrementAndGet();
              return null;
            });
    assertEquals(0, starts.get(), "nothing started before the context is asked for");
    start.context();
    start.seconds();
    start.abandonIfUnused();
    assertEquals(1, starts.get());
  }

  @Test
  void aFailedBackgroundStartThrowsItsOwnExceptionWhenTheContextIsAskedFor() {
    IllegalStateException failure = new IllegalStateException("no master at spark://nowhere");
    SparkStart start =
        SparkStart.inBackground(
            () -> {
              throw failure;
            });
    assertSame(failure, assertThrows(IllegalStateException.class, start::context));
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
