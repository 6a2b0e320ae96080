package dev.knots.io;

import java.io.IOException;

/**
 * A file that can be read at arbitrary byte positions, independent of the storage system.
 *
 * <p>Implementations are cheap to create: no I/O happens until {@link #length()} or {@link #open()}
 * is called.
 */
public interface InputFile {

  /**
   * The location this file was created from, as given to the {@link FileStore}; used in messages.
   */
  String location();

  /**
   * Length of the file in bytes. Implementations created with a known length return it without any
   * I/O.
   *
   * @throws IOException naming the location if the file cannot be found or its length read
   */
  long length() throws IOException;

  /**
   * Opens the file for positional reads. The caller closes the returned reader.
   *
   * @throws IOException naming the location if the file cannot be opened
   */
  RangeReader open() throws IOException;
}
