package dev.knots.io;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The {@link FileStore} contract on {@link LocalFileStore}, with plain paths. */
class LocalFileStoreContractTest extends FileStoreContract {

  private final LocalFileStore store = new LocalFileStore();

  @TempDir Path tmp;

  @Override
  protected FileStore store() {
    return store;
  }

  @Override
  protected String base() {
    return tmp.toString();
  }
}
