package dev.knots.io.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.knots.io.FileFormatException;
import dev.knots.io.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The parts of a PEFT {@code adapter_config.json} that decide a LoRA update, and the flags of the
 * features this project does not merge. Other keys are ignored.
 *
 * @param peftType {@code peft_type}; always {@code "LORA"} once parsed
 * @param r default rank {@code r}
 * @param loraAlpha default {@code lora_alpha}
 * @param useRslora {@code use_rslora}: scaling {@code alpha / sqrt(r)} instead of {@code alpha / r}
 * @param rankPattern {@code rank_pattern}: module regex to rank, in file order (first match wins)
 * @param alphaPattern {@code alpha_pattern}: module regex to alpha, in file order
 * @param targets the keys that select the modules PEFT applies the adapter to ({@code
 *     target_modules} and the keys that narrow it)
 * @param fanInFanOut {@code fan_in_fan_out}; factors are still stored as A {@code r x in}, B {@code
 *     out x r}
 * @param baseModelNameOrPath {@code base_model_name_or_path}, or null
 * @param taskType {@code task_type}, or null
 * @param useDora {@code use_dora} (unsupported)
 * @param loraBias {@code lora_bias} (unsupported)
 * @param bias {@code bias}: "none", "all" or "lora_only"
 * @param modulesToSave {@code modules_to_save} (empty when null)
 */
public record AdapterConfig(
    String peftType,
    int r,
    double loraAlpha,
    boolean useRslora,
    Map<String, Integer> rankPattern,
    Map<String, Double> alphaPattern,
    ModuleTargets targets,
    boolean fanInFanOut,
    String baseModelNameOrPath,
    String taskType,
    boolean useDora,
    boolean loraBias,
    String bias,
    List<String> modulesToSave) {

  /** PEFT's defaults for keys missing from the file. */
  private static final int DEFAULT_R = 8;

  private static final double DEFAULT_ALPHA = 8;

  private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();

  public AdapterConfig {
    Objects.requireNonNull(peftType, "peftType");
    rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
    alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
    Objects.requireNonNull(targets, "targets");
    bias = bias == null ? "none" : bias;
    modulesToSave = List.copyOf(modulesToSave);
  }

  /**
   * Parses the UTF-8 text of an {@code adapter_config.json}.
   *
   * @param location the file, for messages
   * @throws FileFormatException naming the file and key if it is not valid JSON, not a LoRA config,
   *     or has a value of the wrong type or range (r must be positive, alphas finite, pattern keys
   *     valid regular expressions)
   */
  public static AdapterConfig parse(byte[] json, String location) throws FileFormatException {
    ObjectNode root = Json.parseObject(json, "adapter config " + location);
    Fields f = new Fields(root, location);
    String peftType = f.text("peft_type", null);
    if (peftType == null) {
      throw f.invalid("peft_type", "is missing; this is not a PEFT adapter config");
    }
    if (!peftType.equals("LORA")) {
      throw new FileFormatException(
          "Cannot load adapter config "
              + location
              + ": peft_type is \""
              + peftType
              + "\", but only LORA adapters can be merged.");
    }
    int r = f.positiveInt("r", DEFAULT_R);
    double alpha = f.finite("lora_alpha", DEFAULT_ALPHA);
    Map<String, Integer> rankPattern = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : f.object("rank_pattern")) {
      rankPattern.put(
          f.patternKey("rank_pattern", e.getKey()),
          f.positiveInt(e.getValue(), "rank_pattern." + e.getKey()));
    }
    Map<String, Double> alphaPattern = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> e : f.object("alpha_pattern")) {
      alphaPattern.put(
          f.patternKey("alpha_pattern", e.getKey()),
          f.finite(e.getValue(), "alpha_pattern." + e.getKey()));
    }
    List<String> modulesToSave = f.texts("modules_to_save");
    for (String module : modulesToSave) {
      f.regex("modules_to_save", module, ModuleTargets.modulesToSaveRegex(module));
    }
    List<String> layersPatterns = f.textOrTexts("layers_pattern");
    for (String layerPattern : layersPatterns) {
      f.regex("layers_pattern", layerPattern, ModuleTargets.layerRegex(layerPattern));
    }
    String targetRegex = f.regex("target_modules", f.textOrNull("target_modules"));
    String excludeRegex = f.regex("exclude_modules", f.textOrNull("exclude_modules"));
    ModuleTargets targets =
        new ModuleTargets(
            targetRegex == null && f.has("target_modules") ? f.texts("target_modules") : null,
            targetRegex,
            excludeRegex == null ? f.texts("exclude_modules") : List.of(),
            excludeRegex,
            f.layers("layers_to_transform"),
            layersPatterns,
            modulesToSave,
            f.texts("target_parameters"));
    return new AdapterConfig(
        peftType,
        r,
        alpha,
        f.bool("use_rslora"),
        rankPattern,
        alphaPattern,
        targets,
        f.bool("fan_in_fan_out"),
        f.text("base_model_name_or_path", null),
        f.text("task_type", null),
        f.bool("use_dora"),
        f.bool("lora_bias"),
        f.text("bias", "none"),
        modulesToSave);
  }

  /**
   * The rank PEFT gives module {@code moduleKey} (for example {@code layers.0.self_attn.k_proj}):
   * the value of the first {@code rank_pattern} key {@code k}, in order, for which {@code
   * (.*\.)?(k)$} matches the whole module key (PEFT 0.21's {@code get_pattern_key}); else {@code
   * r}.
   */
  public int rankFor(String moduleKey) {
    String key = patternKeyFor(rankPattern.keySet(), moduleKey);
    return key == null ? r : rankPattern.get(key);
  }

  /**
   * The alpha PEFT gives module {@code moduleKey}: {@code alpha_pattern} as for {@link #rankFor},
   * else {@code lora_alpha}.
   */
  public double alphaFor(String moduleKey) {
    String key = patternKeyFor(alphaPattern.keySet(), moduleKey);
    return key == null ? loraAlpha : alphaPattern.get(key);
  }

  /**
   * PEFT's scaling of module {@code moduleKey}: {@code alpha / r}, or {@code alpha / sqrt(r)} with
   * {@code use_rslora}, using the module's own rank and alpha. The update is {@code scaling * B @
   * A}.
   */
  public double scalingFor(String moduleKey) {
    double rank = rankFor(moduleKey);
    return alphaFor(moduleKey) / (useRslora ? Math.sqrt(rank) : rank);
  }

  /**
   * The key module {@code moduleKey}'s alpha comes from, for messages: {@code alpha_pattern "k"} or
   * {@code lora_alpha}.
   */
  public String alphaKeyFor(String moduleKey) {
    String key = patternKeyFor(alphaPattern.keySet(), moduleKey);
    return key == null ? "lora_alpha" : "alpha_pattern \"" + key + "\"";
  }

  private static String patternKeyFor(Iterable<String> keys, String moduleKey) {
    for (String key : keys) {
      if (pattern(key).matcher(moduleKey).matches()) {
        return key;
      }
    }
    return null;
  }

  private static Pattern pattern(String key) {
    return PATTERNS.computeIfAbsent(key, k -> Pattern.compile("(.*\\.)?(" + k + ")$"));
  }

  /** Typed access to the JSON fields, with messages naming the file and key. */
  private record Fields(ObjectNode root, String location) {

    FileFormatException invalid(String key, String reason) {
      return new FileFormatException(
          "Cannot load adapter config " + location + ": \"" + key + "\" " + reason + ".");
    }

    String text(String key, String fallback) throws FileFormatException {
      JsonNode node = root.get(key);
      if (node == null || node.isNull()) {
        return fallback;
      }
      if (!node.isTextual()) {
        throw invalid(key, "must be a string, found " + node);
      }
      return node.textValue();
    }

    boolean has(String key) {
      JsonNode node = root.get(key);
      return node != null && !node.isNull();
    }

    /** The value when it is a string, else null (a list, or absent). */
    String textOrNull(String key) {
      JsonNode node = root.get(key);
      return node != null && node.isTextual() ? node.textValue() : null;
    }

    /** A string or a list of strings, as a list; empty when absent. */
    List<String> textOrTexts(String key) throws FileFormatException {
      String text = textOrNull(key);
      return text == null ? texts(key) : List.of(text);
    }

    /** {@code value} of {@code key}, once it compiles as a regular expression; null stays null. */
    String regex(String key, String value) throws FileFormatException {
      return value == null ? null : regex(key, value, value);
    }

    /** {@code value} of {@code key}, once {@code regex}, which PEFT makes of it, compiles. */
    String regex(String key, String value, String regex) throws FileFormatException {
      try {
        ModuleTargets.pattern(regex);
        return value;
      } catch (PatternSyntaxException e) {
        throw invalid(
            key,
            "has \""
                + value
                + "\", which is not a valid regular expression: "
                + e.getDescription());
      }
    }

    boolean bool(String key) throws FileFormatException {
      JsonNode node = root.get(key);
      if (node == null || node.isNull()) {
        return false;
      }
      if (!node.isBoolean()) {
        throw invalid(key, "must be true or false, found " + node);
      }
      return node.booleanValue();
    }

    int positiveInt(String key, int fallback) throws FileFormatException {
      JsonNode node = root.get(key);
      return node == null || node.isNull() ? fallback : positiveInt(node, key);
    }

    int positiveInt(JsonNode node, String key) throws FileFormatException {
      if (!node.isIntegralNumber() || !node.canConvertToInt() || node.intValue() <= 0) {
        throw invalid(key, "must be a positive integer, found " + node);
      }
      return node.intValue();
    }

    double finite(String key, double fallback) throws FileFormatException {
      JsonNode node = root.get(key);
      return node == null || node.isNull() ? fallback : finite(node, key);
    }

    double finite(JsonNode node, String key) throws FileFormatException {
      if (!node.isNumber() || !Double.isFinite(node.doubleValue())) {
        throw invalid(key, "must be a finite number, found " + node);
      }
      return node.doubleValue();
    }

    Iterable<Map.Entry<String, JsonNode>> object(String key) throws FileFormatException {
      JsonNode node = root.get(key);
      if (node == null || node.isNull()) {
        return List.of();
      }
      if (!node.isObject()) {
        throw invalid(key, "must be an object, found " + node);
      }
      return node.properties();
    }

    String patternKey(String field, String key) throws FileFormatException {
      try {
        pattern(key);
        return key;
      } catch (PatternSyntaxException e) {
        throw invalid(
            field,
            "has key \""
                + key
                + "\", which is not a valid regular expression: "
                + e.getDescription());
      }
    }

    /** An integer or a list of integers; empty when absent. */
    List<Integer> layers(String key) throws FileFormatException {
      JsonNode node = root.get(key);
      List<Integer> values = new ArrayList<>();
      if (node == null || node.isNull()) {
        return values;
      }
      for (JsonNode element : node.isArray() ? node : List.of(node)) {
        if (!element.isIntegralNumber() || !element.canConvertToInt()) {
          throw invalid(key, "must be an integer or a list of integers, found " + node);
        }
        values.add(element.intValue());
      }
      return values;
    }

    List<String> texts(String key) throws FileFormatException {
      JsonNode node = root.get(key);
      if (node == null || node.isNull()) {
        return List.of();
      }
      if (!node.isArray()) {
        throw invalid(key, "must be a list, found " + node);
      }
      List<String> values = new ArrayList<>();
      for (JsonNode element : node) {
        if (!element.isTextual()) {
          throw invalid(key, "must be a list of strings, found " + node);
        }
        values.add(element.textValue());
      }
      return values;
    }
  }
}
