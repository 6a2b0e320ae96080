package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.knots.io.FileFormatException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The error lines of a failure: its own message, the causes that add to it, no stack trace. */
class ErrorOutputTest {

  private static List<String> printed(Throwable failure) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ErrorOutput.print(new PrintStream(bytes, true, StandardCharsets.UTF_8), failure);
    return bytes.toString(StandardCharsets.UTF_8).lines().toList();
  }

  /** Spark's "Job aborted" wrapper repeats the task's message with Java names around it. */
  @Test
  void aWrapperThatRepeatsTheMessageIsLeftOut() {
    String nan = "Cannot use adapter /a/rot90: tensor 'x.lora_A.weight' has NaN at index 5.";
    FileFormatException task = new FileFormatException(nan);
    RuntimeException aborted =
        new RuntimeException(
            "Job aborted due to stage failure: Task 0 in stage 0.0 failed 1 times, most recent"
                + " failure: Lost task 0.0 (TID 0): dev.knots.io.FileFormatException: "
                + nan
                + "\n\tat dev.knots.io.peft.LoraAdapter.requireFinite(LoraAdapter.java:204)",
            task);
    IOException failure = new IOException("Cannot write the merge to /out: " + nan, aborted);
    assertEquals(List.of("Error: Cannot write the merge to /out: " + nan), printed(failure));
  }

  @Test
  void causesThatAddToTheMessageFollowOneLineEach() {
    ConnectException refused = new ConnectException("Connection refused");
    RuntimeException http =
        new RuntimeException(
            "Unable to execute HTTP request: Connect to minio:9000 failed: Connection refused",
            refused);
    IOException failure = new IOException("Cannot read s3a://models/a/adapter_config.json", http);
    assertEquals(
        List.of(
            "Error: Cannot read s3a://models/a/adapter_config.json",
            "  because: Unable to execute HTTP request: Connect to minio:9000 failed: Connection"
                + " refused"),
        printed(failure));
  }

  @Test
  void aFileSystemFailureSaysWhatWentWrongWithThePath() {
    IOException failure =
        new IOException("Cannot open adapter /a/x", new AccessDeniedException("/a/x/weights"));
    assertEquals(
        List.of("Error: Cannot open adapter /a/x", "  because: /a/x/weights: permission denied"),
        printed(failure));
  }

  @Test
  void everyLineIsEscapedAndRedacted() {
    IOException failure =
        new IOException(
            "Cannot read s3a://KEY:SECRET@b/x: tensor 'a\nError: forged'",
            new IOException("s3a://KEY:SECRET@b/x\u001b[31m is gone"));
    assertEquals(
        List.of(
            "Error: Cannot read s3a://b/x: tensor 'a\\nError: forged'",
            "  because: s3a://b/x\\u001b[31m is gone"),
        printed(failure));
  }

  @Test
  void atMostFourCauses() {
    Throwable cause = new IOException("cause 0");
    for (int i = 1; i <= 6; i++) {
      cause = new IOException("cause " + i, cause);
    }
    assertEquals(
        List.of(
            "Error: cause 6",
            "  because: cause 5",
            "  because: cause 4",
            "  because: cause 3",
            "  because: cause 2"),
        printed(cause));
  }
}
