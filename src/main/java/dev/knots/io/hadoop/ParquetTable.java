package dev.knots.io.hadoop;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetFileWriter;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.hadoop.util.HadoopOutputFile;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Types;

/**
 * A table of named columns written as one Parquet file, which pandas, Spark and DuckDB read:
 * numeric columns as optional doubles, the others as optional UTF-8 strings; an empty value is
 * null.
 */
public final class ParquetTable {

  private ParquetTable() {}

  /**
   * Writes {@code rows} (column name to value, a missing column empty) to {@code location}.
   *
   * @param numeric which columns hold numbers
   */
  public static void write(
      Configuration conf,
      String location,
      List<String> columns,
      Predicate<String> numeric,
      List<Map<String, String>> rows)
      throws IOException {
    Types.MessageTypeBuilder builder = Types.buildMessage();
    for (String column : columns) {
      if (numeric.test(column)) {
        builder.optional(PrimitiveTypeName.DOUBLE).named(column);
      } else {
        builder
            .optional(PrimitiveTypeName.BINARY)
            .as(LogicalTypeAnnotation.stringType())
            .named(column);
      }
    }
    MessageType schema = builder.named("results");
    SimpleGroupFactory groups = new SimpleGroupFactory(schema);
    Path path = new Path(location);
    try (ParquetWriter<Group> writer =
        ExampleParquetWriter.builder(HadoopOutputFile.fromPath(path, conf))
            .withType(schema)
            .withConf(conf)
            .withWriteMode(ParquetFileWriter.Mode.CREATE)
            .withCompressionCodec(CompressionCodecName.UNCOMPRESSED)
            .build()) {
      for (Map<String, String> row : rows) {
        Group group = groups.newGroup();
        for (String column : columns) {
          String value = row.getOrDefault(column, "");
          if (value.isEmpty()) {
            continue;
          }
          if (numeric.test(column)) {
            group.append(column, parse(column, value));
          } else {
            group.append(column, value);
          }
        }
        writer.write(group);
      }
    }
  }

  private static double parse(String column, String value) {
    try {
      return Double.parseDouble(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "Column " + column + " holds " + value + ", which is no number", e);
    }
  }
}
