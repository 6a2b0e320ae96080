package dev.knots.plan;

import dev.knots.io.FileFormatException;
import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.io.peft.AdapterConfig;
import dev.knots.io.peft.AdapterWriter;
import dev.knots.io.peft.LoraAdapter;
import dev.knots.io.peft.LoraModule;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The adapters of one merge, opened from their configs and safetensors headers only (no tensor
 * data), checked against each other, and turned into one {@link ModuleSpec} per adapted module.
 */
public final class AdapterSet implements MergeInputs {
  private final List<LoraAdapter> adapters;
  private final List<ModuleSpec> modules;

  private AdapterSet(List<LoraAdapter> adapters, List<ModuleSpec> modules) {
    this.adapters = adapters;
    this.modules = modules;
  }

  /**
   * Opens every adapter and checks that they can be merged: the same base model, the same weight
   * orientation, and the same shape wherever two adapt the same module.
   */
  public static AdapterSet open(
      FileStore store, List<String> locations, LoraAdapter.UnsupportedTensors unsupported)
      throws IOException {
    List<LoraAdapter> adapters = new ArrayList<>();
    for (String location : locations) {
      adapters.add(LoraAdapter.open(store, location, unsupported));
    }
    checkSameBaseModel(adapters);
    checkSameOrientation(adapters);
    return new AdapterSet(adapters, moduleSpecs(adapters));
  }

  public List<LoraAdapter> adapters() {
    return adapters;
  }

  @Override
  public String kind() {
    return "adapter";
  }

  @Override
  public List<String> locations() {
    return adapters.stream().map(LoraAdapter::location).toList();
  }

  @Override
  public boolean fanInFanOut() {
    return firstConfig().fanInFanOut();
  }

  /** The merged adapter keeps the inputs' base model, task type and orientation. */
  @Override
  public AdapterWriter adapterSettings(AdapterWriter writer) {
    return writer.settingsFrom(firstConfig());
  }

  /** Every module some adapter adapts, sorted by key. */
  @Override
  public List<ModuleSpec> modules() {
    return modules;
  }

  /** The config the merged adapter inherits its base model, task type and orientation from. */
  public AdapterConfig firstConfig() {
    return adapters.get(0).config();
  }

  /** What was left out (lenient mode), one line per tensor, prefixed by the adapter. */
  @Override
  public List<String> warnings() {
    List<String> warnings = new ArrayList<>();
    for (LoraAdapter adapter : adapters) {
      adapter
          .warnings()
          .forEach(w -> warnings.add(Locations.redact(adapter.location()) + ": " + w));
    }
    return warnings;
  }

  private static void checkSameBaseModel(List<LoraAdapter> adapters) throws FileFormatException {
    String first = adapters.get(0).config().baseModelNameOrPath();
    for (LoraAdapter adapter : adapters) {
      String base = adapter.config().baseModelNameOrPath();
      if (!Objects.equals(first, base)) {
        throw new FileFormatException(
            "Cannot merge "
                + adapter.location()
                + " with "
                + adapters.get(0).location()
                + ": they name different base models (base_model_name_or_path '"
                + base
                + "' vs '"
                + first
                + "'). Adapters must be fine-tuned from the same base model;"
                + " if both names denote the same weights, make base_model_name_or_path agree in"
                + " adapter_config.json.");
      }
    }
  }

  private static void checkSameOrientation(List<LoraAdapter> adapters) throws FileFormatException {
    boolean first = adapters.get(0).config().fanInFanOut();
    for (LoraAdapter adapter : adapters) {
      if (adapter.config().fanInFanOut() != first) {
        throw new FileFormatException(
            "Cannot merge "
                + adapter.location()
                + " with "
                + adapters.get(0).location()
                + ": fan_in_fan_out differs, so they were trained on differently stored weights.");
      }
    }
  }

  private static List<ModuleSpec> moduleSpecs(List<LoraAdapter> adapters)
      throws FileFormatException {
    TreeSet<String> keys = new TreeSet<>();
    adapters.forEach(a -> keys.addAll(a.modules().keySet()));
    List<ModuleSpec> specs = new ArrayList<>();
    for (String key : keys) {
      SortedMap<String, LoraModule> shapes = new TreeMap<>();
      List<UpdateSource> factors = new ArrayList<>();
      for (LoraAdapter adapter : adapters) {
        LoraModule module = adapter.modules().get(key);
        factors.add(module == null ? null : factorSource(adapter, module));
        if (module != null) {
          shapes.put(adapter.location(), module);
        }
      }
      LoraModule reference = shapes.values().iterator().next();
      for (Map.Entry<String, LoraModule> entry : shapes.entrySet()) {
        LoraModule module = entry.getValue();
        if (module.out() != reference.out() || module.in() != reference.in()) {
          throw new FileFormatException(
              "Cannot merge module "
                  + key
                  + ": adapter "
                  + entry.getKey()
                  + " adapts a "
                  + module.out()
                  + " x "
                  + module.in()
                  + " weight but another adapts a "
                  + reference.out()
                  + " x "
                  + reference.in()
                  + " one. The adapters were not"
                  + " trained on the same base model architecture.");
        }
      }
      specs.add(new ModuleSpec(key, reference.out(), reference.in(), factors));
    }
    return List.copyOf(specs);
  }

  private static FactorSource factorSource(LoraAdapter adapter, LoraModule module)
      throws FileFormatException {
    return new FactorSource(
        adapter.location(),
        adapter.header().restrictedTo(List.of(module.a().name(), module.b().name())),
        module.a().name(),
        module.b().name(),
        module.rank(),
        module.scale());
  }
}
