package dev.knots.plan;

import dev.knots.io.Locations;
import dev.knots.knots.Concat;
import dev.knots.merge.MergeMethod;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
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

  /** Plans with {@link PathOptions#defaults()}: auto paths, Spark's default budgets. */
  public static MergePlan plan(MergeInputs inputs, MergeMethod method, Concat concat) {
    return plan(inputs, method, concat, PathOptions.defaults());
  }

  /**
   * Plans every module's path from headers alone.
   *
   * @throws PlanningException naming the layer, the module, the reason and the option to change,
   *     when a module fits no path or cannot take the forced one
   */
  public static MergePlan plan(
      MergeInputs inputs, MergeMethod method, Concat concat, PathOptions options) {
    Map<String, List<ModulePlan>> byLayer = new LinkedHashMap<>();
    for (ModuleSpec spec : inputs.modules()) {
      String layer = layerOf(spec.key());
      byLayer
          .computeIfAbsent(layer, k -> new ArrayList<>())
          .add(decide(layer, spec, method, concat, options));
    }
    List<String> names = new ArrayList<>(byLayer.keySet());
    names.sort(LAYER_ORDER);
    List<LayerPlan> layers = new ArrayList<>();
    for (String name : names) {
      if (!method.aligned()) {
        requirePlainLayerFits(name, byLayer.get(name), method, options.task());
      }
      layers.add(new LayerPlan(layers.size(), name, byLayer.get(name)));
    }
    return new MergePlan(
        method.name(),
        inputs.kind(),
        inputs.locations(),
        concat.name().toLowerCase(Locale.ROOT),
        layers,
        options);
  }

  /** The layer a module belongs to, or the module itself when it is outside the layers. */
  static String layerOf(String key) {
    Matcher m = LAYER.matcher(key);
    return m.find() ? m.group(1) : key;
  }

  /**
   * FACTOR if every source is factored and it fits one task, else DENSE if it fits, else
   * DISTRIBUTED within MLlib's limits and the driver's and a task's budgets; or the forced path.
   */
  static ModulePlan decide(
      String layer, ModuleSpec spec, MergeMethod method, Concat concat, PathOptions options) {
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
    PathCosts costs = PathCosts.of(spec, concat);
    Budget task = options.task();
    if (options.forced().isPresent()) {
      return forced(layer, spec, concat, costs, options, options.forced().get());
    }
    if (spec.factored() && costs.factor() <= task.bytes()) {
      return new ModulePlan(spec, AlignPath.FACTOR, factorReason(spec, costs, task));
    }
    String factorTooBig =
        spec.factored() ? "the factor path needs " + MergePlan.bytes(costs.factor()) + " and " : "";
    if (costs.dense() <= task.bytes()) {
      return new ModulePlan(
          spec,
          AlignPath.DENSE,
          denseReason(costs, task)
              + (spec.factored()
                  ? "; the factor path would need " + MergePlan.bytes(costs.factor())
                  : ""));
    }
    String overTask =
        factorTooBig
            + "the dense path needs "
            + MergePlan.bytes(costs.dense())
            + ", over the task budget "
            + task.describe();
    Optional<String> problem = distributedProblem(costs, options);
    if (problem.isPresent()) {
      throw new PlanningException(
          cannotAlign(layer, spec, concat) + overTask + "; " + problem.get());
    }
    return new ModulePlan(
        spec, AlignPath.DISTRIBUTED, distributedReason(costs, options) + "; " + overTask);
  }

  private static ModulePlan forced(
      String layer,
      ModuleSpec spec,
      Concat concat,
      PathCosts costs,
      PathOptions options,
      AlignPath path) {
    String by = "forced by --align-path " + path.label() + ": ";
    return switch (path) {
      case FACTOR -> {
        for (int i = 0; i < spec.taskCount(); i++) {
          UpdateSource source = spec.sources().get(i);
          if (source != null && !source.factored()) {
            throw new PlanningException(
                cannotAlign(layer, spec, concat)
                    + "--align-path factor needs LoRA factors, but task "
                    + i
                    + "'s update ("
                    + Locations.redact(source.origin())
                    + ") is a dense weight difference. Use --align-path auto or dense.");
          }
        }
        yield new ModulePlan(spec, path, by + factorReason(spec, costs, options.task()));
      }
      case DENSE -> new ModulePlan(spec, path, by + denseReason(costs, options.task()));
      case DISTRIBUTED -> {
        Optional<String> problem = distributedProblem(costs, options);
        if (problem.isPresent()) {
          throw new PlanningException(
              cannotAlign(layer, spec, concat) + "--align-path distributed: " + problem.get());
        }
        yield new ModulePlan(spec, path, by + distributedReason(costs, options));
      }
      case NONE -> throw new IllegalArgumentException("NONE is not a path one can force");
    };
  }

  /** Why the distributed path cannot take this module, with what to change; empty if it can. */
  private static Optional<String> distributedProblem(PathCosts costs, PathOptions options) {
    int c = costs.smallerSide();
    String otherConcat =
        " Stacking the other way (--concat input/output) or merging fewer adapters at once"
            + " makes the smaller side smaller.";
    if (c > PathCosts.GRAMIAN_MAX_COLUMNS) {
      return Optional.of(
          String.format(
              Locale.ROOT,
              "the smaller side of the stacked %d x %d matrix has %d columns; MLlib's Gramian is"
                  + " limited to %d.%s",
              costs.stacked(),
              (long) costs.tasks() * costs.width(),
              c,
              PathCosts.GRAMIAN_MAX_COLUMNS,
              otherConcat));
    }
    if (c > PathCosts.EIGEN_MAX_COLUMNS) {
      return Optional.of(
          String.format(
              Locale.ROOT,
              "the smaller side of the stacked matrix has %d columns; past MLlib's local-svd limit"
                  + " of %d the %d x %d Gramian is decomposed with LAPACK dsyevd, whose workspace"
                  + " is limited to %d columns.%s",
              c,
              PathCosts.LOCAL_SVD_MAX_COLUMNS,
              c,
              c,
              PathCosts.EIGEN_MAX_COLUMNS,
              otherConcat));
    }
    if (costs.distributedDriver() > options.driver().bytes()) {
      return Optional.of(
          String.format(
              Locale.ROOT,
              "the distributed path holds the %d x %d Gramian and its decomposition on the driver,"
                  + " %s, over the driver budget %s. Raise %s together with spark.driver.memory.",
              c,
              c,
              MergePlan.bytes(costs.distributedDriver()),
              options.driver().describe(),
              PathRequest.DRIVER_MEMORY));
    }
    if (costs.distributedTask() > options.task().bytes()) {
      return Optional.of(
          String.format(
              Locale.ROOT,
              "even the distributed path needs %s in one task (the module's representations, which"
                  + " its layer's merge holds, a row block and the basis), over the task budget %s."
                  + " Raise %s together with spark.executor.memory.",
              MergePlan.bytes(costs.distributedTask()),
              options.task().describe(),
              PathRequest.TASK_MEMORY));
    }
    return Optional.empty();
  }

  /**
   * A plain method's layer task holds the dense updates of all the layer's modules, with no
   * distributed path to fall back on: a layer over the task budget is refused here, naming what to
   * change, rather than running a task out of memory.
   */
  static void requirePlainLayerFits(
      String layer, List<ModulePlan> modules, MergeMethod method, Budget task) {
    List<ModuleSpec> specs = modules.stream().map(ModulePlan::spec).toList();
    long bytes = PathCosts.plainLayer(specs);
    if (bytes <= task.bytes()) {
      return;
    }
    ModuleSpec largest =
        specs.stream().max(Comparator.comparingLong(ModuleSpec::entries)).orElseThrow();
    boolean factored = specs.stream().allMatch(ModuleSpec::factored);
    throw new PlanningException(
        String.format(
            Locale.ROOT,
            "Cannot merge layer %s with %s: a plain method holds the dense updates of the layer's"
                + " %d modules for all %d inputs in one task, with the merged updates, %s (the"
                + " largest module, %s, is %d x %d), over the task budget %s. To fit it: %sraise"
                + " %s with the memory behind it (spark.executor.memory per executor core; under a"
                + " local master, --driver-memory, which every task slot shares); or merge fewer"
                + " inputs at once.",
            layer,
            method.name(),
            specs.size(),
            largest.taskCount(),
            MergePlan.bytes(bytes),
            largest.key(),
            largest.out(),
            largest.in(),
            task.describe(),
            factored
                ? "merge with knots-"
                    + method.name()
                    + ", which works on the LoRA factors without forming dense updates; "
                : "",
            PathRequest.TASK_MEMORY));
  }

  private static String cannotAlign(String layer, ModuleSpec spec, Concat concat) {
    return String.format(
        Locale.ROOT,
        "Cannot align module %s of layer %s (%d x %d, %d adapters, concat %s): ",
        spec.key(),
        layer,
        spec.out(),
        spec.in(),
        spec.taskCount(),
        concat.name().toLowerCase(Locale.ROOT));
  }

  private static String factorReason(ModuleSpec spec, PathCosts costs, Budget task) {
    int s = spec.totalRank();
    return String.format(
        Locale.ROOT,
        "LoRA factors: exact joint SVD of a %d x %d core (sum of ranks), never forming the %d x %d"
            + " update; needs %s of the task budget %s",
        s,
        s,
        spec.out(),
        spec.in(),
        MergePlan.bytes(costs.factor()),
        MergePlan.bytes(task.bytes()));
  }

  private static String denseReason(PathCosts costs, Budget task) {
    return String.format(
        Locale.ROOT,
        "dense SVD of the stacked %d x %d matrix in one task; needs %s of the task budget %s",
        costs.stacked(),
        (long) costs.tasks() * costs.width(),
        MergePlan.bytes(costs.dense()),
        MergePlan.bytes(task.bytes()));
  }

  private static String distributedReason(PathCosts costs, PathOptions options) {
    int c = costs.smallerSide();
    return String.format(
        Locale.ROOT,
        "MLlib SVD of the %d x %d Gramian (%s, %s) on the driver, %s of the driver budget %s;"
            + " rows read and projected by tasks of %s each",
        c,
        c,
        costs.gramianGivesU() ? "M M^T, eigenvectors U" : "M^T M, eigenvectors V",
        c <= PathCosts.LOCAL_SVD_MAX_COLUMNS ? "local-svd" : "Gramian + LAPACK dsyevd",
        MergePlan.bytes(costs.distributedDriver()),
        MergePlan.bytes(options.driver().bytes()),
        MergePlan.bytes(costs.distributedTask()));
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
