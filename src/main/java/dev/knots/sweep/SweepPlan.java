package dev.knots.sweep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.knots.io.FileStore;
import dev.knots.io.Json;
import dev.knots.io.Locations;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.job.MergeRequest;
import dev.knots.job.OutputCommit;
import dev.knots.job.OutputFormat;
import dev.knots.job.RunOptions;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.plan.PathRequest;
import dev.knots.plan.VectorPolicy;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A sweep resolved: its output, its format and every merge it runs, in order (combination by
 * combination, each combination's points in grid order).
 *
 * @param file the sweep file it was resolved from
 * @param output where the sweep writes, from {@code --output} or the file
 * @param format what every point writes
 * @param points every merge, combination by combination
 */
public record SweepPlan(
    SweepFile file, String output, OutputFormat format, List<SweepPoint> points) {

  public static final String POINTS_DIR = "points";
  public static final String RESOLVED_FILE = "sweep.yaml";
  public static final String RESULTS_CSV = "results.csv";
  public static final String RESULTS_PARQUET = "results.parquet";
  public static final String BEST_FILE = "best.json";

  public SweepPlan {
    points = List.copyOf(points);
  }

  /**
   * The sweep {@code file} describes, with the command line's {@code --output} and {@code --format}
   * in place of the file's where given.
   *
   * @throws InvalidOptionException naming the option or key at fault
   */
  public static SweepPlan of(
      SweepFile file,
      Optional<String> outputOption,
      Optional<String> formatOption,
      FileStore store) {
    String output =
        outputOption
            .or(file::output)
            .orElseThrow(
                () ->
                    new InvalidOptionException(
                        "--output",
                        "(not given)",
                        "the sweep needs an output directory: give --output, or output: in "
                            + file.location()));
    OutputFormat format =
        formatOption
            .or(file::format)
            .map(SweepPlan::format)
            .orElse(
                file.kind() == SweepFile.InputKind.ADAPTERS
                    ? OutputFormat.ADAPTER
                    : OutputFormat.MODEL);
    List<SweepPoint> points = new ArrayList<>();
    for (Combination combination : file.combinations()) {
      List<String> locations =
          combination.names().stream().map(name -> file.pool().get(name)).toList();
      for (Point point : file.points()) {
        String directory =
            store.resolve(
                store.resolve(store.resolve(output, POINTS_DIR), combination.id()), point.id());
        CommonOptions common = file.common();
        boolean adapters = file.kind() == SweepFile.InputKind.ADAPTERS;
        MergeRequest request =
            new MergeRequest(
                adapters ? locations : List.of(),
                point.method(),
                point.parameters(),
                point.concat().orElse(Concat.OUTPUT),
                directory,
                format,
                file.base(),
                adapters ? List.of() : locations,
                common.exclude(),
                common.vectors().map(VectorPolicy::parse).orElse(VectorPolicy.MERGE),
                common.loraRank());
        points.add(new SweepPoint(combination, point, request));
      }
    }
    return new SweepPlan(file, output, format, points);
  }

  private static OutputFormat format(String value) {
    return value.equals(OutputFormat.NONE.optionValue())
        ? OutputFormat.NONE
        : OutputFormat.parse(value.toLowerCase(Locale.ROOT));
  }

  /** How every point runs: the file's path options and unsupported-tensor choice. */
  public RunOptions runOptions() {
    CommonOptions common = file.common();
    return new RunOptions(
        true,
        common.skipUnsupported()
            ? LoraAdapter.UnsupportedTensors.SKIP_WITH_WARNING
            : LoraAdapter.UnsupportedTensors.REFUSE,
        PathRequest.of(
            common.alignPath().orElse(null),
            common.taskMemory().orElse(null),
            common.driverMemoryBudget().orElse(null)));
  }

  /** The points of {@code combination}, in grid order. */
  public List<SweepPoint> pointsOf(Combination combination) {
    return points.stream().filter(p -> p.combination().equals(combination)).toList();
  }

  /**
   * Refuses, before any work, a sweep whose output would destroy one of its inputs, or that lists
   * one input twice in a combination under two spellings (see {@link MergeRequest#checkLocations}).
   */
  public void checkLocations(FileStore store) throws IOException {
    for (Combination combination : file.combinations()) {
      pointsOf(combination).get(0).request().checkLocations(store);
    }
  }

  /**
   * What earlier runs of this sweep left beside its points: a killed run's staging directory, say
   * (see {@link OutputCommit#leftovers}). None is a complete point.
   */
  public List<String> leftovers(FileStore store) throws IOException {
    if (!format.writes()) {
      return List.of();
    }
    return OutputCommit.leftovers(store, points.stream().map(p -> p.request().output()).toList());
  }

  /**
   * Refuses an output that holds something besides a sweep: a sweep writes and replaces its files
   * there ({@code points/}, {@code results.csv}, ...), so it must be a new or empty directory, or
   * an earlier run's (which {@code sweep.yaml} marks).
   */
  public void checkOutput(FileStore store) throws IOException {
    if (!store.exists(output)) {
      return;
    }
    boolean sweep =
        store.isDirectory(output)
            && (store.list(output).isEmpty() || store.exists(store.resolve(output, RESOLVED_FILE)));
    if (!sweep) {
      throw new InvalidOptionException(
          "--output",
          Locations.redact(output),
          "it exists and holds no sweep (no "
              + RESOLVED_FILE
              + "), and a sweep writes and replaces files there; choose a new or empty directory,"
              + " or the output of an earlier run of this sweep");
    }
  }

  /** {@code sweep.yaml}: the file as resolved, every combination and point listed. */
  public byte[] resolvedYaml() {
    ObjectNode root = Json.object();
    ObjectNode pool =
        root.putObject(file.kind() == SweepFile.InputKind.ADAPTERS ? "adapters" : "finetuned");
    file.pool().forEach((name, location) -> pool.put(name, Locations.redact(location)));
    file.base().ifPresent(base -> root.put("base", Locations.redact(base)));
    root.put("output", Locations.redact(output));
    root.put("format", format.optionValue());
    ArrayNode combinations = root.putArray("combinations");
    for (Combination combination : file.combinations()) {
      ObjectNode node = combinations.addObject();
      node.put("id", combination.id());
      combination.names().forEach(node.putArray("adapters")::add);
    }
    ArrayNode points = root.putArray("points");
    for (Point point : file.points()) {
      ObjectNode node = points.addObject();
      node.put("id", point.id());
      Rows.pointColumns(point).forEach(node::put);
    }
    file.evaluate()
        .ifPresent(
            e -> {
              ObjectNode node = root.putObject("evaluate");
              e.command().forEach(node.putArray("command")::add);
              node.put("timeout", e.timeoutSeconds());
              node.put("parallelism", e.parallelism());
            });
    file.select()
        .ifPresent(
            s ->
                root.putObject("select")
                    .put("metric", s.metric())
                    .put("mode", s.maximize() ? "max" : "min"));
    try {
      return new YAMLMapper().writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("Cannot write a tree of strings and numbers as YAML", e);
    }
  }
}
