package dev.knots.io.hadoop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.knots.io.FileStore;
import dev.knots.io.FileStoreContract;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@link FileStore} contract on {@link HadoopFileStore} over Hadoop's local file system ({@code
 * file://}).
 */
class HadoopLocalFileStoreTest extends FileStoreContract {

  private final HadoopFileStore store = new HadoopFileStore(new Configuration());

  @TempDir Path tmp;

  @Override
  protected FileStore store() {
    return store;
  }

  @Override
  protected String base() {
    return tmp.toUri().toString();
  }

  @Test
  void checksumFilesStayHidden() throws IOException {
    write(at("a.bin"), new byte[] {1, 2, 3});
    // Hadoop's checksummed local file system writes .a.bin.crc beside it, but does not list it
    assertEquals(List.of(".a.bin.crc", "a.bin"), new dev.knots.io.LocalFileStore().list(dir));
    assertEquals(List.of("a.bin"), store.list(dir));
  }
}
