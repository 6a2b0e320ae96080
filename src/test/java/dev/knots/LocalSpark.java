package dev.knots;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;

/** The tests' Spark: local, no UI, bound to the loopback address. */
public final class LocalSpark {

  private LocalSpark() {}

  /** The settings for {@code master} (e.g. {@code local[2,3]}: two cores, three task attempts). */
  public static SparkConf conf(String master, String app) {
    return new SparkConf()
        .setMaster(master)
        .setAppName(app)
        .set("spark.ui.enabled", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1");
  }

  /** A context with {@link #conf}'s settings. */
  public static SparkContext start(String master, String app) {
    return new SparkContext(conf(master, app));
  }
}
