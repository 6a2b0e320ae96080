package dev.knots;

import org.apache.spark.sql.SparkSession;

/** The tests' Spark: local, no UI, bound to the loopback address. */
public final class LocalSpark {

  private LocalSpark() {}

  /** A builder for {@code master} (e.g. {@code local[2,3]}: two cores, three task attempts). */
  public static SparkSession.Builder builder(String master, String app) {
    return SparkSession.builder()
        .master(master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1");
  }
}
