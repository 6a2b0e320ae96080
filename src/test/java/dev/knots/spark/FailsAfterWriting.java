package dev.knots.spark;

import dev.knots.io.FileStore;
import dev.knots.io.ForwardingFileStore;
import dev.knots.io.HookedOutputFile;
import dev.knots.io.OutputFile;
import java.io.IOException;

/**
 * A store that fails every write of a file whose name ends with {@code suffix} right after the file
 * is complete: a job that fails with part of its output written.
 */
public final class FailsAfterWriting extends ForwardingFileStore {
  private static final long serialVersionUID = 1L;

  /** The name of the part file the merge task of layer 1 writes. */
  public static final String LAYER_1_PART = "layer-00001.safetensors";

  private final String suffix;

  public FailsAfterWriting(FileStore delegate, String suffix) {
    super(delegate);
    this.suffix = suffix;
  }

  @Override
  public OutputFile outputFile(String location) {
    OutputFile file = super.outputFile(location);
    if (!location.endsWith(suffix)) {
      return file;
    }
    return new HookedOutputFile(
        file,
        () -> {},
        () -> {
          throw new IOException("Injected write failure after writing " + location);
        });
  }
}
