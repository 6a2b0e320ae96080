package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.Fixtures;
import dev.knots.ForkedJvm;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a person running scripts/knots-merge sees on the terminal, in a JVM of its own with the
 * local logging configuration (conf/log4j2.properties) and the details file the script gives it:
 * one clear error, no stack trace, nothing that a file's content can forge or colour.
 */
class TerminalOutputTest {
  /** A frame of a stack trace, as Java prints it. */
  private static final Pattern FRAME = Pattern.compile("^\\s+at ");

  private static final String NAN_TENSOR =
      "base_model.model.layers.0.self_attn.k_proj.lora_A.weight";

  @TempDir Path temp;

  /**
   * A NaN in an adapter fails a Spark task. Spark's executor and scheduler report it with stack
   * traces; they go to the details file, and the terminal gets the one error naming the adapter,
   * the tensor and that file. The missing native BLAS (made certain by pointing netlib at a path
   * that does not exist) is said once, in the program's words.
   */
  @Test
  void aFailedSparkTaskPrintsOneErrorNamingTheDetailsFile() throws Exception {
    Path adapter = nanAdapter();
    Path details = temp.resolve("logs/details.log");
    Path out = temp.resolve("out");
    ForkedJvm.Result run =
        ForkedJvm.run(
            temp,
            List.of(
                "-Xmx1g",
                "-Dspark.master=local[2]",
                "-Dspark.ui.enabled=false",
                "-Dspark.driver.host=127.0.0.1",
                "-Dspark.driver.bindAddress=127.0.0.1",
                "-Dlog4j2.configurationFile=" + ForkedJvm.LOCAL_LOGGING,
                "-Dknots.log.file=" + details,
                "-Ddev.ludovic.netlib.blas.nativeLibPath=/nonexistent/libblas.so.3",
                "-Ddev.ludovic.netlib.lapack.nativeLibPath=/nonexistent/liblapack.so.3"),
            Main.class.getName(),
            "merge",
            "--adapters",
            adapter + "," + Fixtures.path("adapters/hflip"),
            "--method",
            "ties",
            "--output",
            out.toString());
    assertEquals(1, run.exitCode(), run.err());
    for (String line : run.errLines()) {
      assertFalse(FRAME.matcher(line).find(), "a stack trace on the terminal:\n" + run.err());
      assertFalse(line.contains("Exception in task"), run.err());
      assertFalse(line.contains("TaskSetManager"), run.err());
    }
    assertTrue(
        run.errLines()
            .contains(
                "Error: Cannot use adapter "
                    + adapter
                    + ": tensor '"
                    + NAN_TENSOR
                    + "' has NaN at index 5 (row 0, column 5). The adapter is corrupt or its"
                    + " training diverged; retrain it or leave it out."),
        run.err());
    assertTrue(run.errLines().contains("  details: " + details), run.err());
    assertTrue(run.errLines().contains("Nothing was written at " + out + "."), run.err());
    // netlib first loads on a task thread, after Spark started on another: said once
    assertEquals(
        1,
        run.errLines().stream().filter(l -> l.contains("Native BLAS and LAPACK not found")).count(),
        run.err());
    assertFalse(run.err().contains("dlopen"), run.err());
    String log = Files.readString(details, StandardCharsets.UTF_8);
    assertTrue(log.contains("Exception in task"), log);
    assertTrue(log.contains("\tat dev.knots.io.peft.LoraAdapter.requireFinite("), log);
  }

  /**
   * Every log line is escaped: a hostile tensor name neither forges a line nor colours the
   * terminal, on the console or in the details file; the console never shows a stack trace, the
   * details file keeps them readable, one frame per line.
   */
  @Test
  void logLinesAreEscapedAndTracesGoToTheDetailsFile() throws Exception {
    Path details = temp.resolve("details.log");
    ForkedJvm.Result run =
        ForkedJvm.run(
            temp,
            List.of(
                "-Dlog4j2.configurationFile=" + ForkedJvm.LOCAL_LOGGING,
                "-Dknots.log.file=" + details),
            LoggingProbe.class.getName());
    assertEquals(0, run.exitCode(), run.err());
    String escaped = "q_proj\\u001b[31m\\n12:00:00 ERROR forged: line";
    assertTrue(
        run.errLines().stream()
            .anyMatch(l -> l.endsWith("INFO knots-merge: Aligned module " + escaped)),
        run.err());
    assertTrue(
        run.errLines().stream().anyMatch(l -> l.endsWith("WARN FileSystem: Cannot close a stream")),
        run.err());
    assertTrue(
        run.errLines().containsAll(List.of("Error: a bug", "  details: " + details)), run.err());
    assertEquals(details.toString(), run.out().strip(), "the details file the program finds");
    for (String line : run.errLines()) {
      assertFalse(FRAME.matcher(line).find(), "a stack trace on the terminal:\n" + run.err());
      assertFalse(line.contains("Lost task"), "Spark's scheduler writes to the file only");
      assertFalse(line.startsWith("12:00:00 ERROR forged"), run.err());
    }
    assertFalse(run.err().contains("\u001b"), run.err());

    String log = Files.readString(details, StandardCharsets.UTF_8);
    assertFalse(log.contains("\u001b"), log);
    assertFalse(log.contains("Aligned module"), "INFO stays on the console: " + log);
    List<String> lines = log.lines().toList();
    int lost = indexOf(lines, "org.apache.spark.scheduler.TaskSetManager: Lost task 0.0");
    assertEquals(
        "java.io.IOException: Cannot use adapter a: tensor '" + escaped + "' has NaN",
        lines.get(lost + 1));
    assertTrue(lines.get(lost + 2).startsWith("\tat dev.knots.cli.LoggingProbe.main("), log);
    int closed = indexOf(lines, "org.apache.hadoop.fs.FileSystem: Cannot close a stream");
    assertEquals("java.io.IOException: Stream closed", lines.get(closed + 1));
    int bug = indexOf(lines, "knots-merge.details: The failure behind \"Error: a bug\"");
    assertEquals("java.lang.IllegalStateException: a bug", lines.get(bug + 1));
  }

  private static int indexOf(List<String> lines, String part) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains(part)) {
        return i;
      }
    }
    throw new AssertionError("no line with " + part + " in:\n" + String.join("\n", lines));
  }

  /** A copy of the rot90 fixture adapter with a NaN at index 5 of its first tensor's data. */
  private Path nanAdapter() throws IOException {
    Path source = Path.of(Fixtures.path("adapters/rot90"));
    Path adapter = Files.createDirectories(temp.resolve("nan-rot90"));
    try (var files = Files.list(source)) {
      for (Path file : files.toList()) {
        Files.copy(file, adapter.resolve(file.getFileName()));
      }
    }
    try (FileChannel weights =
        FileChannel.open(
            adapter.resolve("adapter_model.safetensors"),
            StandardOpenOption.READ,
            StandardOpenOption.WRITE)) {
      ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      weights.read(length, 0);
      long data = 8 + length.getLong(0);
      ByteBuffer nan = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
      weights.write(nan.flip(), data + 4 * 5);
    }
    return adapter;
  }
}
