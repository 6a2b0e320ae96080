package dev.knots.plan;

import dev.knots.io.Locations;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * What a merge will do, decided before any tensor is read: the layers (one Spark task each), their
 * modules, and the path each module takes with the reason. {@code --dry-run} prints it.
 */
public record MergePlan(
    String method,
    String inputKind,
    List<String> inputs,
    String concat,
    List<LayerPlan> layers,
    PathOptions pathOptions) {

  public MergePlan {
    inputs = List.copyOf(inputs);
    layers = List.copyOf(layers);
  }

  public int taskCount() {
    return inputs.size();
  }

  public int moduleCount() {
    return layers.stream().mapToInt(l -> l.modules().size()).sum();
  }

  public List<ModulePlan> modules() {
    return layers.stream().flatMap(l -> l.modules().stream()).toList();
  }

  public long inputBytes() {
    return layers.stream().mapToLong(LayerPlan::inputBytes).sum();
  }

  /** The plan as an operator reads it: one line per layer, one per module with its reason. */
  public String describe() {
    StringBuilder out = new StringBuilder();
    out.append(
        String.format(
            Locale.ROOT,
            "Plan: %s over %d %ss, %d modules in %d tasks, concat %s, reading %s%n",
            method,
            taskCount(),
            inputKind,
            moduleCount(),
            layers.size(),
            concat,
            bytes(inputBytes())));
    out.append(
        String.format(
            Locale.ROOT,
            "Alignment paths: %s; budgets: task %s, driver %s%n",
            pathOptions.forced().map(p -> "forced " + p.label()).orElse("auto"),
            pathOptions.task().describe(),
            pathOptions.driver().describe()));
    for (int i = 0; i < inputs.size(); i++) {
      out.append(
          String.format(
              Locale.ROOT,
              "  %s %d: %s%n",
              inputKind,
              i,
              Locations.printable(Locations.redact(inputs.get(i)))));
    }
    for (LayerPlan layer : layers) {
      out.append(
          String.format(
              Locale.ROOT,
              "task %d: %s (%d modules, reads %s; %s)%n",
              layer.index(),
              layer.name(),
              layer.modules().size(),
              bytes(layer.inputBytes()),
              pathCounts(layer)));
      for (ModulePlan module : layer.modules()) {
        ModuleSpec spec = module.spec();
        String ranks =
            spec.sources().stream()
                .map(f -> f == null ? "-" : Integer.toString(f.rank()))
                .collect(Collectors.joining(","));
        out.append(
            String.format(
                Locale.ROOT,
                "  %-40s %5d x %-5d ranks %s  %s: %s%n",
                spec.key(),
                spec.out(),
                spec.in(),
                ranks,
                module.path().name(),
                module.reason()));
      }
    }
    return out.toString();
  }

  /** How many of the layer's modules take each path, e.g. {@code 3 factor, 1 distributed}. */
  private static String pathCounts(LayerPlan layer) {
    Map<AlignPath, Long> counts = new EnumMap<>(AlignPath.class);
    layer.modules().forEach(m -> counts.merge(m.path(), 1L, Long::sum));
    return counts.entrySet().stream()
        .map(e -> e.getValue() + " " + e.getKey().label())
        .collect(Collectors.joining(", "));
  }

  /** Bytes in binary units, for people. */
  public static String bytes(long n) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = n;
    int unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return unit == 0 ? n + " B" : String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
  }
}
