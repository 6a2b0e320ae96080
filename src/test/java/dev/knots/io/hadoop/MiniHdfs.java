package dev.knots.io.hadoop;

import java.io.File;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * An in-process HDFS (one NameNode, one DataNode) on 127.0.0.1 with ephemeral ports, for tests.
 * Start it once per test class and close it at the end:
 *
 * <pre>{@code
 * private static MiniHdfs hdfs;
 * @BeforeAll static void start() throws IOException { hdfs = MiniHdfs.start(); }
 * @AfterAll static void stop() { hdfs.close(); }
 * ... new HadoopFileStore(hdfs.configuration()), hdfs.uri("/models/base") ...
 * }</pre>
 *
 * Its data lives under {@code target/minidfs-*} and is deleted by {@link #close()}.
 */
public final class MiniHdfs implements AutoCloseable {

  private final MiniDFSCluster cluster;
  private final Configuration conf;
  private final String root;
  private final long startMillis;

  private MiniHdfs(MiniDFSCluster cluster, long startMillis) {
    this.cluster = cluster;
    this.root = "hdfs://127.0.0.1:" + cluster.getNameNodePort();
    this.conf = new Configuration(cluster.getConfiguration(0));
    this.conf.set("fs.defaultFS", root);
    this.startMillis = startMillis;
  }

  /** Starts a cluster and waits until it serves requests (about 5-12 s). */
  public static MiniHdfs start() throws IOException {
    long t0 = System.nanoTime();
    Configuration conf = new Configuration();
    File base = new File("target/minidfs-" + System.nanoTime()).getAbsoluteFile();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    cluster.waitActive();
    return new MiniHdfs(cluster, (System.nanoTime() - t0) / 1_000_000);
  }

  /** {@code hdfs://127.0.0.1:PORT}, without a trailing slash. */
  public String root() {
    return root;
  }

  /**
   * The URI of an absolute path on this cluster: {@code uri("/a/b")} is {@code
   * hdfs://127.0.0.1:PORT/a/b}.
   */
  public String uri(String absolutePath) {
    return root + (absolutePath.startsWith("/") ? absolutePath : "/" + absolutePath);
  }

  /** A copy of the client configuration; its default file system is this cluster. */
  public Configuration configuration() {
    return new Configuration(conf);
  }

  /**
   * The settings a Spark job needs to reach this cluster, as {@code spark.hadoop.*} properties.
   * HDFS URIs carry the NameNode address, so only the default file system is set.
   */
  public Map<String, String> sparkProperties() {
    Map<String, String> properties = new LinkedHashMap<>();
    properties.put("spark.hadoop.fs.defaultFS", root);
    return properties;
  }

  /** How long {@link #start()} took, in milliseconds. */
  public long startMillis() {
    return startMillis;
  }

  /** Shuts the cluster down and deletes its data. */
  @Override
  public void close() {
    cluster.shutdown(true);
  }
}
