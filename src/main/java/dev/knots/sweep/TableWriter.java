package dev.knots.sweep;

import java.io.IOException;

/** Writes a sweep's results table in a format besides CSV, such as Parquet. */
public interface TableWriter {

  /** The file's name in the sweep's output directory, such as {@code results.parquet}. */
  String fileName();

  /** Writes {@code table} to {@code location}, which does not exist yet. */
  void write(String location, ResultsTable table) throws IOException;
}
