package dev.knots.io.hadoop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.knots.io.FileStore;
import dev.knots.io.FileStoreContract;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The {@link FileStore} contract on {@link HadoopFileStore} over a real (in-process) HDFS. */
class HdfsFileStoreTest extends FileStoreContract {

  private static MiniHdfs hdfs;
  private static HadoopFileStore store;

  @BeforeAll
  static void startHdfs() throws IOException {
    hdfs = MiniHdfs.start();
    System.out.println("MiniHdfs started in " + hdfs.startMillis() + " ms");
    store = new HadoopFileStore(hdfs.configuration());
  }

  @AfterAll
  static void stopHdfs() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  @Override
  protected FileStore store() {
    return store;
  }

  @Override
  protected String base() {
    return hdfs.uri("/contract");
  }

  @Test
  void aNamenodeNobodyListensOnIsNamedWithWhatToCheck() throws IOException {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    Configuration conf = new Configuration();
    conf.setInt("ipc.client.connect.max.retries", 0); // the test's own bound
    String namenode = "hdfs://127.0.0.1:" + closedPort;
    IOException e =
        assertThrows(IOException.class, () -> new HadoopFileStore(conf).exists(namenode + "/a"));
    assertEquals(
        "Cannot check "
            + namenode
            + "/a: cannot connect to "
            + namenode
            + " (Connection refused). Check that the service runs and that this machine can reach"
            + " it.",
        e.getMessage());
  }
}
