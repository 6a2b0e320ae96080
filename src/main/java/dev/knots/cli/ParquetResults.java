package dev.knots.cli;

import dev.knots.io.hadoop.ParquetTable;
import dev.knots.sweep.ResultsTable;
import dev.knots.sweep.SweepPlan;
import dev.knots.sweep.TableWriter;
import java.io.IOException;
import org.apache.hadoop.conf.Configuration;

/** A sweep's {@code results.parquet}: its table as one Parquet file, through Hadoop. */
public final class ParquetResults implements TableWriter {
  private final Configuration conf;

  public ParquetResults(Configuration conf) {
    this.conf = conf;
  }

  @Override
  public String fileName() {
    return SweepPlan.RESULTS_PARQUET;
  }

  @Override
  public void write(String location, ResultsTable table) throws IOException {
    ParquetTable.write(conf, location, table.columns(), ResultsTable::numeric, table.rows());
  }
}
