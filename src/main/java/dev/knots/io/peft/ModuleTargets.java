package dev.knots.io.peft;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The modules PEFT applies an adapter to, as its {@code adapter_config.json} selects them: PEFT
 * 0.21's {@code check_target_module_exists}, plus the modules holding a {@code target_parameters}
 * entry. PEFT loads a saved adapter with {@code strict=False}, so the factors of a module these
 * keys do not select are dropped without a word; the merge must not apply them either.
 *
 * @param modules {@code target_modules} as a list; null when it is a regex or absent
 * @param regex {@code target_modules} as a regular expression that must match the whole module key;
 *     null when it is a list or absent
 * @param exclude {@code exclude_modules} as a list (empty when a regex or absent)
 * @param excludeRegex {@code exclude_modules} as a regular expression; else null
 * @param layers {@code layers_to_transform} (empty: every layer)
 * @param layersPatterns {@code layers_pattern} (empty: the first number between dots after a name)
 * @param modulesToSave {@code modules_to_save}, which PEFT never puts LoRA on
 * @param parameters {@code target_parameters}
 */
public record ModuleTargets(
    List<String> modules,
    String regex,
    List<String> exclude,
    String excludeRegex,
    List<Integer> layers,
    List<String> layersPatterns,
    List<String> modulesToSave,
    List<String> parameters) {

  /** PEFT's shorthand for every linear layer but the output head, which only the model knows. */
  private static final String ALL_LINEAR = "all-linear";

  /** PEFT's layer index without {@code layers_pattern}: the first number after a named segment. */
  private static final String DEFAULT_LAYER = ".*?\\.[^.]*\\.(\\d+)\\.";

  private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();

  public ModuleTargets {
    modules = modules == null ? null : List.copyOf(modules);
    exclude = List.copyOf(exclude);
    layers = List.copyOf(layers);
    layersPatterns = List.copyOf(layersPatterns);
    modulesToSave = List.copyOf(modulesToSave);
    parameters = List.copyOf(parameters);
  }

  /**
   * Whether the config says which modules are targeted. Without {@code target_modules} PEFT takes
   * its defaults for the base model's type, which the adapter does not record: every module is then
   * taken as targeted.
   */
  public boolean known() {
    return modules != null || regex != null || !parameters.isEmpty();
  }

  /** Whether PEFT applies the adapter's factors of module {@code key}. */
  public boolean selects(String key) {
    return !known() || selectsModule(key) || holdsTargetParameter(key);
  }

  private boolean selectsModule(String key) {
    if (excludeRegex != null ? fullMatch(excludeRegex, key) : isOrEndsWith(exclude, key)) {
      return false;
    }
    for (String saved : modulesToSave) {
      if (fullMatch(modulesToSaveRegex(saved), key)) {
        return false;
      }
    }
    if (regex != null) {
      return regex.toLowerCase(Locale.ROOT).equals(ALL_LINEAR) || fullMatch(regex, key);
    }
    if (modules == null) {
      return false;
    }
    if (modules.contains(key)) {
      return true;
    }
    return isOrEndsWith(modules, key) && (layers.isEmpty() || inTransformedLayer(key));
  }

  /** PEFT targets a parameter {@code name.param} on the module whose key plus it ends that way. */
  private boolean holdsTargetParameter(String key) {
    for (String target : parameters) {
      String parameter = key + "." + target.substring(target.lastIndexOf('.') + 1);
      if (parameter.equals(target) || parameter.endsWith("." + target)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the module's layer index, found PEFT's way, is in {@code layers_to_transform}. */
  private boolean inTransformedLayer(String key) {
    List<String> regexes =
        layersPatterns.isEmpty()
            ? List.of(DEFAULT_LAYER)
            : layersPatterns.stream().map(ModuleTargets::layerRegex).toList();
    for (String layerRegex : regexes) {
      Matcher index = pattern(layerRegex).matcher(key);
      if (index.lookingAt()) {
        try {
          return layers.contains(Integer.parseInt(index.group(1)));
        } catch (NumberFormatException e) {
          return false; // beyond any layer an int can name
        }
      }
    }
    return false;
  }

  /** The keys that select modules, as {@code adapter_config.json} has them, for messages. */
  public String describe() {
    List<String> keys = new ArrayList<>();
    if (regex != null) {
      keys.add("target_modules \"" + regex + "\"");
    } else if (modules != null) {
      keys.add("target_modules " + quoted(modules));
    }
    if (!parameters.isEmpty()) {
      keys.add("target_parameters " + quoted(parameters));
    }
    if (excludeRegex != null) {
      keys.add("exclude_modules \"" + excludeRegex + "\"");
    } else if (!exclude.isEmpty()) {
      keys.add("exclude_modules " + quoted(exclude));
    }
    if (!layers.isEmpty()) {
      keys.add("layers_to_transform " + layers);
    }
    if (!layersPatterns.isEmpty()) {
      keys.add("layers_pattern " + quoted(layersPatterns));
    }
    if (!modulesToSave.isEmpty()) {
      keys.add("modules_to_save " + quoted(modulesToSave));
    }
    return String.join(", ", keys);
  }

  /** The regex PEFT matches a {@code modules_to_save} entry with. */
  static String modulesToSaveRegex(String module) {
    return "(^|.*\\.)" + module + "($|\\..*)";
  }

  /** The regex PEFT finds a layer index with, for one {@code layers_pattern} entry. */
  static String layerRegex(String layerPattern) {
    return "(?:^|.*?\\.)" + layerPattern + "\\.(\\d+)\\.";
  }

  /** Compiles {@code regex} once. */
  static Pattern pattern(String regex) {
    return PATTERNS.computeIfAbsent(regex, Pattern::compile);
  }

  private static boolean fullMatch(String regex, String key) {
    return pattern(regex).matcher(key).matches();
  }

  private static boolean isOrEndsWith(List<String> names, String key) {
    for (String name : names) {
      if (key.equals(name) || key.endsWith("." + name)) {
        return true;
      }
    }
    return false;
  }

  private static String quoted(List<?> values) {
    return values.stream().map(v -> "\"" + v + "\"").collect(Collectors.joining(", ", "[", "]"));
  }
}
