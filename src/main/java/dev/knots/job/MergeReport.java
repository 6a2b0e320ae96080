package dev.knots.job;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.Json;
import dev.knots.io.Locations;
import dev.knots.merge.ModuleDiagnostics;
import dev.knots.plan.MergePlan;
import dev.knots.plan.ModulePlan;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code merge_report.json}: the inputs, the exact options (enough to rerun the merge), per-module
 * path and rank, timings, bytes moved and totals. Written beside the output, before {@code
 * _SUCCESS}.
 *
 * @param engine where it ran (Spark master, application id, versions)
 * @param timings seconds per phase, in the order they ran, plus {@code totalSeconds}
 */
public record MergeReport(
    MergeRequest request,
    boolean overwrite,
    MergePlan plan,
    MergeResult result,
    Map<String, String> engine,
    Map<String, Double> timings,
    long bytesRead,
    long bytesWritten,
    long driverPeakHeapBytes,
    Instant started,
    Instant finished) {

  public static final String FILE_NAME = "merge_report.json";

  public MergeReport {
    engine = new LinkedHashMap<>(engine);
    timings = new LinkedHashMap<>(timings);
  }

  public byte[] toJson() {
    ObjectNode root = Json.object();
    root.put("tool", "knots-merge");
    root.put("started", started.toString());
    root.put("finished", finished.toString());

    ObjectNode merge = merge(request);
    root.set("inputs", merge.get("inputs"));
    root.set("options", ((ObjectNode) merge.get("options")).put("overwrite", overwrite));

    ObjectNode engineNode = root.putObject("engine");
    engine.forEach(engineNode::put);
    ObjectNode timingNode = root.putObject("timings");
    timings.forEach(timingNode::put);
    root.putObject("bytes").put("read", bytesRead).put("written", bytesWritten);
    root.putObject("memory").put("driverPeakHeapBytes", driverPeakHeapBytes);

    ObjectNode totals = root.putObject("totals");
    totals.put("tasks", plan.layers().size());
    totals.put("modules", plan.moduleCount());
    totals.put("adapterRankTotal", result.modules().stream().mapToLong(ModuleOutcome::rank).sum());
    ArrayNode used = totals.putArray("entriesUsedPerTask");
    for (long n : result.usedPerTask()) {
      used.add(n);
    }

    ModuleDiagnostics diagnostics = result.diagnostics();
    ObjectNode diagnosticsNode = root.putObject("diagnostics");
    diagnosticsNode.put("mergedNorm", diagnostics.mergedNorm());
    ArrayNode retention = diagnosticsNode.putArray("retention");
    for (double r : diagnostics.retention()) {
      if (Double.isNaN(r)) {
        retention.addNull();
      } else {
        retention.add(r);
      }
    }

    ArrayNode notInAdapter = root.putArray("changesNotInAdapter");
    result.changesNotInAdapter().forEach(notInAdapter::add);

    ArrayNode modules = root.putArray("modules");
    for (ModulePlan module : plan.modules()) {
      ModuleOutcome outcome = result.module(module.key());
      ObjectNode node = modules.addObject();
      node.put("key", module.key());
      node.put("out", outcome.out());
      node.put("in", outcome.in());
      node.put("path", module.path().label());
      node.put("components", outcome.components());
      node.put("rank", outcome.rank());
      if (outcome.extracted()) {
        node.put("loraRank", outcome.loraRank());
        node.put("loraKeptFraction", outcome.loraKeptFraction());
        node.put("loraLeftOut", outcome.loraLeftOut());
      }
      ArrayNode perTask = node.putArray("entriesUsedPerTask");
      for (long n : outcome.usedPerTask()) {
        perTask.add(n);
      }
    }
    return Json.pretty(root);
  }

  /**
   * What merge {@code request} computes and where it writes, as its report holds them under
   * "inputs" and "options" (without "overwrite"): two requests with equal descriptions write the
   * same output.
   */
  public static ObjectNode merge(MergeRequest request) {
    ObjectNode root = Json.object();
    ObjectNode inputs = root.putObject("inputs");
    ArrayNode adapters = inputs.putArray("adapters");
    request.adapters().forEach(a -> adapters.add(Locations.redact(a)));
    ArrayNode finetuned = inputs.putArray("finetuned");
    request.finetuned().forEach(f -> finetuned.add(Locations.redact(f)));
    inputs.put("base", request.base().map(Locations::redact).orElse(null));
    ObjectNode options = root.putObject("options");
    options.put("method", request.method().name());
    options.put("topK", request.parameters().topK());
    ArrayNode scaling = options.putArray("scaling");
    request.parameters().scaling().forEach(scaling::add);
    options.put("dareDrop", request.parameters().dareDrop());
    options.put("seed", request.parameters().seed());
    options.put("scope", request.parameters().scope().optionValue());
    options.put("concat", request.concat().name().toLowerCase(Locale.ROOT));
    options.put("format", request.format().optionValue());
    options.put("output", Locations.redact(request.output()));
    if (request.mergesCheckpoints()) {
      options.put("exclude", request.exclude().orElse(null));
      options.put("vectors", request.vectors().optionValue());
      if (request.loraRank().isPresent()) {
        options.put("loraRank", request.loraRank().getAsInt());
      }
    }
    return root;
  }

  /** One paragraph for the end of a run: what was merged, where, ranks and time. */
  public String summary() {
    List<ModuleOutcome> modules = result.modules();
    int minRank = modules.stream().mapToInt(ModuleOutcome::rank).min().orElse(0);
    int maxRank = modules.stream().mapToInt(ModuleOutcome::rank).max().orElse(0);
    return String.format(
        Locale.ROOT,
        "Merged %d %s with %s (top-k %s%%, scaling %s, %s scope) into %s: %d modules in %d"
            + " tasks, merged LoRA ranks %d..%d, %s read, %s written, %.1f s in total"
            + " (Spark start %.1f s). The report is %s/%s.",
        request.taskCount(),
        request.mergesCheckpoints() ? "checkpoints" : "adapters",
        request.method().name(),
        trim(request.parameters().topK()),
        request.parameters().scaling(),
        request.parameters().scope().optionValue(),
        Locations.redact(request.output()),
        modules.size(),
        plan.layers().size(),
        minRank,
        maxRank,
        MergePlan.bytes(bytesRead),
        MergePlan.bytes(bytesWritten),
        timings.getOrDefault("totalSeconds", 0.0),
        timings.getOrDefault("sparkStartSeconds", 0.0),
        Locations.redact(request.output()),
        FILE_NAME);
  }

  private static String trim(double value) {
    return value == Math.rint(value) ? Long.toString((long) value) : Double.toString(value);
  }
}
