package dev.knots.io;

import java.io.IOException;
import java.io.OutputStream;

/** A file to be written once, from start to end. */
public interface OutputFile {

  /**
   * The location this file was created from, as given to the {@link FileStore}; used in messages.
   */
  String location();

  /**
   * Creates the file (and any missing parent directories) and returns a stream that writes it. The
   * file is complete once the stream is closed. Errors raised by the stream name the location.
   *
   * @throws IOException naming the location if the file already exists or cannot be created
   */
  OutputStream create() throws IOException;
}
