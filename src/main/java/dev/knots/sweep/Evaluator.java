package dev.knots.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileFormatException;
import dev.knots.io.Json;
import dev.knots.io.Locations;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs a sweep's evaluator on one committed point: the command without a shell, its placeholders
 * ({@code {output}}, {@code {combination}}, {@code {point}}, {@code {adapters}}) substituted; the
 * last non-empty line it prints must be one JSON object of names to numbers.
 */
public final class Evaluator {
  private final Evaluation evaluation;

  public Evaluator(Evaluation evaluation) {
    this.evaluation = evaluation;
  }

  /** The metrics a run printed, or why there are none. */
  public record Outcome(Map<String, Double> metrics, Optional<String> error) {

    static Outcome failed(String error) {
      return new Outcome(Map.of(), Optional.of(error));
    }
  }

  /** The command with {@code values} in place of its {@code {name}} placeholders. */
  List<String> command(Map<String, String> values) {
    List<String> command = new ArrayList<>();
    for (String argument : evaluation.command()) {
      String substituted = argument;
      for (Map.Entry<String, String> value : values.entrySet()) {
        substituted = substituted.replace("{" + value.getKey() + "}", value.getValue());
      }
      command.add(substituted);
    }
    return command;
  }

  /** Runs the evaluator with {@code values} substituted and waits for it, at most its timeout. */
  public Outcome evaluate(Map<String, String> values) {
    List<String> command = command(values);
    Path stdout = null;
    Path stderr = null;
    try {
      stdout = Files.createTempFile("knots-evaluate-", ".out");
      stderr = Files.createTempFile("knots-evaluate-", ".err");
      Process process =
          new ProcessBuilder(command)
              .redirectOutput(stdout.toFile())
              .redirectError(stderr.toFile())
              .start();
      if (!process.waitFor(evaluation.timeoutSeconds(), TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor();
        return Outcome.failed(
            "the evaluator ran longer than evaluate.timeout ("
                + evaluation.timeoutSeconds()
                + " s) and was stopped"
                + lastLine(stderr).map(l -> "; its last error line: " + l).orElse(""));
      }
      if (process.exitValue() != 0) {
        return Outcome.failed(
            "the evaluator exited with status "
                + process.exitValue()
                + lastLine(stderr).map(l -> ": " + l).orElse(""));
      }
      Optional<String> last = lastLine(stdout);
      if (last.isEmpty()) {
        return Outcome.failed(
            "the evaluator printed nothing; its last line must be one JSON object of names to"
                + " numbers");
      }
      return metrics(last.get());
    } catch (IOException e) {
      return Outcome.failed(
          "cannot run the evaluator "
              + Locations.printable(command.get(0))
              + ": "
              + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.failed("the evaluation was interrupted");
    } finally {
      delete(stdout);
      delete(stderr);
    }
  }

  /** The metrics of the evaluator's last line, or why it is no JSON object of numbers. */
  static Outcome metrics(String line) {
    ObjectNode object;
    try {
      object = Json.parseObject(line.getBytes(StandardCharsets.UTF_8), "the evaluator's last line");
    } catch (FileFormatException e) {
      return Outcome.failed(
          e.getMessage() + " (its last line must be one JSON object of names to numbers)");
    }
    Map<String, Double> metrics = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = object.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> field = it.next();
      if (!field.getValue().isNumber()) {
        return Outcome.failed(
            "the evaluator's last line gives "
                + Locations.printable(field.getKey())
                + " as "
                + Json.kind(field.getValue())
                + "; every value must be a number");
      }
      metrics.put(field.getKey(), field.getValue().doubleValue());
    }
    return new Outcome(metrics, Optional.empty());
  }

  private static Optional<String> lastLine(Path file) throws IOException {
    // whatever the evaluator printed, undecodable bytes included
    List<String> lines =
        new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
    for (int i = lines.size() - 1; i >= 0; i--) {
      if (!lines.get(i).isBlank()) {
        return Optional.of(Locations.printable(lines.get(i).strip()));
      }
    }
    return Optional.empty();
  }

  private static void delete(Path file) {
    if (file != null) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // a temporary file in the system's temporary directory: nothing to do
      }
    }
  }
}
