package dev.knots.io.hadoop;

import dev.knots.io.FileStore;
import dev.knots.io.FileStoreContract;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

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
}
