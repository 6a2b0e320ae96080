package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Fixtures;
import dev.knots.ForkedJvm;
import dev.knots.PeftCheck;
import dev.knots.job.LocalRuns;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputFormat;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/evaluate_merge.py as a sweep's evaluator: {@code --tasks} scores only the merged tasks,
 * {@code --json} ends standard output with one JSON object of metrics. Runs in the Python that
 * {@link PeftCheck#python()} names.
 */
class EvaluateMergeScriptTest {
  private static final Path SCRIPT = Path.of("scripts/evaluate_merge.py").toAbsolutePath();
  private static final Path EXAMPLES = Path.of("examples/digits").toAbsolutePath();

  @TempDir Path temp;

  @Test
  void printsTheNamedTasksMetricsAsOneJsonObjectOnTheLastLine() throws Exception {
    String python = PeftCheck.python();
    // laid out as a sweep lays out its points
    Path point = temp.resolve("points/rot90+hflip/ties_topk20_s0.6");
    LocalRuns.run(
        new MergeRequest(
            List.of(adapter("rot90"), adapter("hflip")),
            MergeMethods.byName("ties"),
            MergeParameters.defaults().withTopK(20).withScaling(List.of(0.6)),
            Concat.OUTPUT,
            point.toString(),
            OutputFormat.ADAPTER,
            Optional.empty()),
        Fixtures.STORE,
        false);

    ForkedJvm.Result result =
        evaluate(python, "--adapter", point.toString(), "--tasks", "rot90,hflip", "--json");

    assertEquals(0, result.exitCode(), result.err());
    List<String> lines = result.out().lines().filter(l -> !l.isBlank()).toList();
    JsonNode metrics = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    Set<String> names = new TreeSet<>();
    metrics.fieldNames().forEachRemaining(names::add);
    assertEquals(Set.of("avg_acc", "avg_norm", "acc.rot90", "acc.hflip"), names);
    JsonNode tasks = new ObjectMapper().readTree(EXAMPLES.resolve("tasks.json").toFile());
    int validation = tasks.at("/split/val").asInt();
    double accuracies = 0;
    double normalized = 0;
    for (String task : List.of("rot90", "hflip")) {
      double accuracy = metrics.get("acc." + task).asDouble();
      // a share of the validation examples (float32 mean: 1e-6)
      assertEquals(Math.rint(accuracy * validation), accuracy * validation, 1e-6 * validation);
      accuracies += accuracy;
      normalized += accuracy / finetunedValidationAccuracy(tasks, task);
    }
    assertEquals(accuracies / 2, metrics.get("avg_acc").asDouble(), 1e-12);
    assertEquals(normalized / 2, metrics.get("avg_norm").asDouble(), 1e-12);
    // the human table goes to standard error, with the named tasks only
    assertTrue(result.err().lines().anyMatch(l -> l.startsWith("rot90 ")), result.err());
    assertTrue(result.err().lines().anyMatch(l -> l.startsWith("hflip ")), result.err());
    assertFalse(result.err().lines().anyMatch(l -> l.startsWith("invert ")), result.err());
  }

  @Test
  void refusesAnUnknownTaskNamingItAndTheKnownOnes() throws Exception {
    String python = PeftCheck.python();

    ForkedJvm.Result result =
        evaluate(python, "--adapter", temp.toString(), "--tasks", "rot90,rot45,hflip", "--json");

    assertEquals(2, result.exitCode(), result.err());
    assertTrue(
        result
            .err()
            .contains(
                "--tasks: "
                    + EXAMPLES.resolve("tasks.json")
                    + " has no task named rot45; its tasks are rot90, hflip, invert,"
                    + " rot180_parity, transpose_mod3, vflip_ge5, shift_down2,"
                    + " identity_reverse"),
        result.err());
    assertEquals("", result.out());
  }

  @Test
  void refusesADirectoryThatHoldsNoAdapter() throws Exception {
    String python = PeftCheck.python();
    Path point = temp.resolve("points/all/ties_topk20_s0.6");

    ForkedJvm.Result result = evaluate(python, "--adapter", point.toString(), "--json");

    assertEquals(2, result.exitCode(), result.err());
    assertTrue(
        result
            .err()
            .contains(
                "--adapter "
                    + point
                    + " holds no adapter_config.json: give a merged PEFT adapter directory (a"
                    + " merge or sweep written with format adapter or both)"),
        result.err());
  }

  private ForkedJvm.Result evaluate(String python, String... options) throws Exception {
    List<String> command =
        new ArrayList<>(
            List.of(
                python, SCRIPT.toString(), "--examples", EXAMPLES.toString(), "--split", "val"));
    command.addAll(List.of(options));
    // a timeout only against a hang
    return ForkedJvm.start(temp, command, Map.of()).finish(5, TimeUnit.MINUTES);
  }

  private static String adapter(String name) {
    return EXAMPLES.resolve("adapters").resolve(name).toString();
  }

  private static double finetunedValidationAccuracy(JsonNode tasks, String name) {
    for (JsonNode task : tasks.get("tasks")) {
      if (task.get("name").asText().equals(name)) {
        return task.get("finetuned_val_acc").asDouble();
      }
    }
    throw new AssertionError("examples/digits/tasks.json has no task " + name);
  }
}
