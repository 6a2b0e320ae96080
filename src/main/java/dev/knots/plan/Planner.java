package dev.knots.plan;

import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethod;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decides, from headers alone, which modules run together (one task per transformer layer) and
 * which path each takes.
 */
public final class Planner {
  /**
   * A layer is the module path up to its first numeric segment: model.layers.12, transformer.h.3.
   */
  private static final Pattern LAYER = Pattern.compile("^(.*?\\.(\\d+))\\.");

  private Planner() {}

  public static MergePlan plan(MergeInputs inputs, MergeMethod method, Concat concat) {
    Map<String, List<ModulePlan>> byLayer = new LinkedHashMap<>();
    for (ModuleSpec spec : inputs.modules()) {
      byLayer
          .computeIfAbsent(layerOf(spec.key()), k -> new ArrayList<>())
          .add(decide(spec, method, concat));
    }
    List<String> names = new ArrayList<>(byLayer.keySet());
    names.sort(LAYER_ORDER);
    List<LayerPlan> layers = new ArrayList<>();
    for (String name : names) {
      layers.add(new LayerPlan(layers.size(), name, byLayer.get(name)));
    }
    return new MergePlan(
        method.name(),
        inputs.kind(),
        inputs.locations(),
        concat.name().toLowerCase(Locale.ROOT),
        layers);
  }

  /** The layer a module belongs to, or the module itself when it is outside the layers. */
  static String layerOf(String key) {
    Matcher m = LAYER.matcher(key);
    return m.find() ? m.group(1) : key;
  }

  private static ModulePlan decide(ModuleSpec spec, MergeMethod method, Concat concat) {
    if (!method.aligned()) {
      return new ModulePlan(
          spec,
          AlignPath.NONE,
          String.format(
              Locale.ROOT,
              "%s merges the updates directly (%d x %d per adapter)",
              method.name(),
              spec.out(),
              spec.in()));
    }
    if (!spec.factored()) {
      return denseAlignment(spec);
    }
    int s = spec.totalRank();
    return new ModulePlan(
        spec,
        AlignPath.FACTOR,
        String.format(
            Locale.ROOT,
            "LoRA factors: exact joint SVD of a %d x %d core (sum of ranks), never forming the %d x %d update",
            s,
            s,
            spec.out(),
            spec.in()));
  }

  /** Dense updates (full checkpoints) have no factors: the joint SVD of the stacked updates. */
  private static ModulePlan denseAlignment(ModuleSpec spec) {
    long bytes = (long) spec.out() * spec.in() * spec.taskCount() * Double.BYTES;
    return new ModulePlan(
        spec,
        AlignPath.DENSE,
        String.format(
            Locale.ROOT,
            "dense updates (finetuned - base): local joint SVD of the stacked %d x %d float64"
                + " matrix (%s)",
            spec.out(),
            (long) spec.in() * spec.taskCount(),
            MergePlan.bytes(bytes)));
  }

  /** model.layers.2 before model.layers.10, then modules outside the layers by name. */
  private static final Comparator<String> LAYER_ORDER =
      (a, b) -> {
        Matcher ma = LAYER.matcher(a + ".");
        Matcher mb = LAYER.matcher(b + ".");
        boolean la = ma.find() && ma.group(1).equals(a);
        boolean lb = mb.find() && mb.group(1).equals(b);
        if (la && lb) {
          String prefixA = a.substring(0, a.length() - ma.group(2).length());
          String prefixB = b.substring(0, b.length() - mb.group(2).length());
          int byPrefix = prefixA.compareTo(prefixB);
          return byPrefix != 0
              ? byPrefix
              : Integer.compare(Integer.parseInt(ma.group(2)), Integer.parseInt(mb.group(2)));
        }
        if (la != lb) {
          return la ? -1 : 1;
        }
        return a.compareTo(b);
      };
}
