package dev.knots.io.peft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.knots.Fixtures;
import dev.knots.io.FileFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AdapterConfigTest {

  private static AdapterConfig parse(String json) throws FileFormatException {
    return AdapterConfig.parse(json.getBytes(StandardCharsets.UTF_8), "/a/adapter_config.json");
  }

  private static AdapterConfig fixture(String task) throws IOException {
    Path file = Path.of(Fixtures.path("adapters/" + task + "/adapter_config.json"));
    return AdapterConfig.parse(Files.readAllBytes(file), file.toString());
  }

  @Test
  void scalesMatchExpectedConfigsForEveryFixtureModule() throws IOException {
    JsonNode scales =
        new ObjectMapper()
            .readTree(Path.of(Fixtures.path("expected/configs.json")).toFile())
            .get("adapter_scales");
    int checked = 0;
    for (String task : Fixtures.TASKS) {
      AdapterConfig config = fixture(task);
      for (Map.Entry<String, JsonNode> module : scales.get(task).properties()) {
        String key = module.getKey().substring(LoraAdapter.KEY_PREFIX.length());
        JsonNode expected = module.getValue();
        assertEquals(expected.get("r").intValue(), config.rankFor(key), task + " " + key);
        assertEquals(expected.get("alpha").doubleValue(), config.alphaFor(key), task + " " + key);
        assertEquals(
            expected.get("scale").doubleValue(), config.scalingFor(key), 1e-12, task + " " + key);
        checked++;
      }
    }
    assertEquals(8 * 12, checked);
  }

  @Test
  void readsFixtureFields() throws IOException {
    AdapterConfig shift = fixture("shift_down2");
    assertEquals("LORA", shift.peftType());
    assertEquals(8, shift.r());
    assertEquals(16.0, shift.loraAlpha());
    assertEquals(Map.of("k_proj", 4), shift.rankPattern());
    assertEquals(Map.of("k_proj", 16.0), shift.alphaPattern());
    assertEquals(List.of("k_proj", "q_proj", "v_proj", "o_proj"), shift.targets().modules());
    assertNull(shift.targets().regex());
    assertEquals("../../base_model", shift.baseModelNameOrPath());
    assertNull(shift.taskType());
    assertFalse(shift.fanInFanOut() || shift.useDora() || shift.loraBias() || shift.useRslora());
    assertEquals("none", shift.bias());
    assertTrue(shift.modulesToSave().isEmpty());
    assertEquals(4.0, shift.scalingFor("layers.1.self_attn.k_proj"));
    assertEquals(2.0, shift.scalingFor("layers.1.self_attn.q_proj"));

    AdapterConfig rslora = fixture("transpose_mod3");
    assertTrue(rslora.useRslora());
    assertEquals(16 / Math.sqrt(8), rslora.scalingFor("layers.0.self_attn.v_proj"));
  }

  @Test
  void firstMatchingPatternWinsInFileOrder() throws FileFormatException {
    AdapterConfig general =
        parse(
            "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":8,"
                + "\"rank_pattern\":{\"q_proj\":4,\"layers\\\\.0\\\\.self_attn\\\\.q_proj\":2}}");
    assertEquals(4, general.rankFor("layers.0.self_attn.q_proj"));
    AdapterConfig specific =
        parse(
            "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":8,"
                + "\"rank_pattern\":{\"layers\\\\.0\\\\.self_attn\\\\.q_proj\":2,\"q_proj\":4}}");
    assertEquals(2, specific.rankFor("layers.0.self_attn.q_proj"));
    assertEquals(4, specific.rankFor("layers.1.self_attn.q_proj"));
    assertEquals(
        List.of("layers\\.0\\.self_attn\\.q_proj", "q_proj"),
        List.copyOf(specific.rankPattern().keySet()));
  }

  @Test
  void patternsMatchWholeDotSeparatedSuffixes() throws FileFormatException {
    AdapterConfig config =
        parse(
            "{\"peft_type\":\"LORA\",\"r\":8,\"lora_alpha\":16,"
                + "\"rank_pattern\":{\"q_proj\":4,\"layers\\\\.1\\\\..*\":2},\"alpha_pattern\":{\"v_proj\":3.5}}");
    assertEquals(4, config.rankFor("q_proj"));
    assertEquals(4, config.rankFor("model.layers.0.q_proj"));
    assertEquals(8, config.rankFor("model.layers.0.xq_proj"), "the key must follow a dot");
    assertEquals(8, config.rankFor("model.layers.0.q_proj.inner"), "the key must end the name");
    assertEquals(2, config.rankFor("model.layers.1.mlp.up_proj"));
    assertEquals(8, config.rankFor("model.layers.10.mlp.up_proj"));
    assertEquals(3.5, config.alphaFor("a.v_proj"));
    assertEquals(16.0, config.alphaFor("a.k_proj"));
    assertEquals(3.5 / 8, config.scalingFor("layers.0.v_proj"));
  }

  @Test
  void defaultsAndRegexTargets() throws FileFormatException {
    AdapterConfig config =
        parse(
            "{\"peft_type\":\"LORA\",\"target_modules\":\".*(q|v)_proj\","
                + "\"layers_to_transform\":3,\"modules_to_save\":[\"score\"],\"task_type\":\"SEQ_CLS\"}");
    assertEquals(8, config.r());
    assertEquals(8.0, config.loraAlpha());
    assertEquals(".*(q|v)_proj", config.targets().regex());
    assertNull(config.targets().modules());
    assertEquals(List.of(3), config.targets().layers());
    assertEquals(List.of("score"), config.modulesToSave());
    assertEquals("SEQ_CLS", config.taskType());
    assertEquals(1.0, config.scalingFor("anything"));
  }

  private static final List<String> MODULE_KEYS =
      List.of(
          "model.layers.0.self_attn.q_proj",
          "model.layers.1.self_attn.k_proj",
          "model.layers.12.mlp.up_proj",
          "layers.0.q_proj",
          "q_proj",
          "model.layers.0.self_attn.xq_proj",
          "model.h.3.attn.q_proj",
          "score");

  /**
   * The modules of {@link #MODULE_KEYS} that PEFT 0.21's {@code check_target_module_exists} selects
   * under each config, as printed by PEFT itself for these configs and keys.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(
      delimiter = '|',
      value = {
        "list|\"target_modules\":[\"q_proj\",\"up_proj\"]"
            + "|model.layers.0.self_attn.q_proj,model.layers.12.mlp.up_proj,layers.0.q_proj,q_proj,"
            + "model.h.3.attn.q_proj",
        "regex, a full match|\"target_modules\":\".*\\\\.[qk]_proj\""
            + "|model.layers.0.self_attn.q_proj,model.layers.1.self_attn.k_proj,layers.0.q_proj,"
            + "model.h.3.attn.q_proj",
        "exclude_modules list|\"target_modules\":[\"q_proj\",\"k_proj\"],"
            + "\"exclude_modules\":[\"layers.0.self_attn.q_proj\"]"
            + "|model.layers.1.self_attn.k_proj,layers.0.q_proj,q_proj,model.h.3.attn.q_proj",
        "exclude_modules regex|\"target_modules\":[\"q_proj\",\"k_proj\"],"
            + "\"exclude_modules\":\".*layers\\\\.1\\\\..*\""
            + "|model.layers.0.self_attn.q_proj,layers.0.q_proj,q_proj,model.h.3.attn.q_proj",
        "layers_to_transform|\"target_modules\":[\"q_proj\",\"k_proj\",\"up_proj\"],"
            + "\"layers_to_transform\":[0,12]"
            + "|model.layers.0.self_attn.q_proj,model.layers.12.mlp.up_proj,q_proj",
        "layers_pattern|\"target_modules\":[\"q_proj\"],\"layers_to_transform\":3,"
            + "\"layers_pattern\":\"h\"|q_proj,model.h.3.attn.q_proj",
        "exact name ignores layers|\"target_modules\":[\"layers.0.q_proj\"],"
            + "\"layers_to_transform\":[5]|layers.0.q_proj",
        "modules_to_save excluded|\"target_modules\":[\"q_proj\",\"score\"],"
            + "\"modules_to_save\":[\"score\"]"
            + "|model.layers.0.self_attn.q_proj,layers.0.q_proj,q_proj,model.h.3.attn.q_proj",
        "all-linear|\"target_modules\":\"all-linear\"|" + ALL_KEYS,
        "absent: PEFT's model defaults, unknown here|\"r\":8|" + ALL_KEYS,
        "target_parameters|\"target_modules\":[],"
            + "\"target_parameters\":[\"mlp.up_proj.weight\"]|model.layers.12.mlp.up_proj"
      })
  void selectsTheModulesPeftApplies(String name, String keys, String selected)
      throws FileFormatException {
    ModuleTargets targets = parse("{\"peft_type\":\"LORA\"," + keys + "}").targets();
    assertEquals(
        List.of(selected.split(",")),
        MODULE_KEYS.stream().filter(targets::selects).toList(),
        targets.describe());
  }

  private static final String ALL_KEYS =
      "model.layers.0.self_attn.q_proj,model.layers.1.self_attn.k_proj,model.layers.12.mlp.up_proj,"
          + "layers.0.q_proj,q_proj,model.layers.0.self_attn.xq_proj,model.h.3.attn.q_proj,score";

  @Test
  void describesTheKeysThatSelectModules() throws FileFormatException {
    assertEquals(
        "target_modules [\"q_proj\", \"v_proj\"], exclude_modules \"x\", layers_to_transform [1],"
            + " layers_pattern [\"h\", \"layers\"]",
        parse(
                "{\"peft_type\":\"LORA\",\"target_modules\":[\"q_proj\",\"v_proj\"],"
                    + "\"exclude_modules\":\"x\",\"layers_to_transform\":1,"
                    + "\"layers_pattern\":[\"h\",\"layers\"]}")
            .targets()
            .describe());
  }

  @Test
  void refusesOtherPeftTypes() {
    FileFormatException e =
        assertThrows(FileFormatException.class, () -> parse("{\"peft_type\":\"IA3\",\"r\":8}"));
    assertEquals(
        "Cannot load adapter config /a/adapter_config.json: peft_type is \"IA3\", but only LORA adapters"
            + " can be merged.",
        e.getMessage());
    FileFormatException missing = assertThrows(FileFormatException.class, () -> parse("{\"r\":8}"));
    assertEquals(
        "Cannot load adapter config /a/adapter_config.json: \"peft_type\" is missing; this is not a PEFT"
            + " adapter config.",
        missing.getMessage());
  }

  @Test
  void refusesBadValues() {
    assertBad("{\"peft_type\":\"LORA\",\"r\":0}", "\"r\" must be a positive integer, found 0");
    assertBad("{\"peft_type\":\"LORA\",\"r\":4.5}", "\"r\" must be a positive integer, found 4.5");
    assertBad(
        "{\"peft_type\":\"LORA\",\"lora_alpha\":1e400}", "\"lora_alpha\" must be a finite number");
    assertBad(
        "{\"peft_type\":\"LORA\",\"lora_alpha\":\"16\"}",
        "\"lora_alpha\" must be a finite number, found \"16\"");
    assertBad(
        "{\"peft_type\":\"LORA\",\"rank_pattern\":{\"q\":-1}}",
        "\"rank_pattern.q\" must be a positive integer");
    assertBad(
        "{\"peft_type\":\"LORA\",\"rank_pattern\":{\"q(\":2}}",
        "\"rank_pattern\" has key \"q(\", which is not a valid regular expression");
    assertBad(
        "{\"peft_type\":\"LORA\",\"use_rslora\":\"yes\"}", "\"use_rslora\" must be true or false");
    assertBad(
        "{\"peft_type\":\"LORA\",\"target_modules\":[1]}",
        "\"target_modules\" must be a list of strings");
    assertBad(
        "{\"peft_type\":\"LORA\",\"target_modules\":\"(q_proj\"}",
        "\"target_modules\" has \"(q_proj\", which is not a valid regular expression");
    assertBad(
        "{\"peft_type\":\"LORA\",\"layers_pattern\":[\"h[\"]}",
        "\"layers_pattern\" has \"h[\", which is not a valid regular expression");
    assertBad(
        "{\"peft_type\":\"LORA\",",
        "Cannot parse adapter config /a/adapter_config.json: not valid JSON at line 1, column 21:"
            + " the text ends before the JSON does; the file is truncated.");
  }

  /**
   * A malformed config is described in the file's terms, with line and column: never with the JSON
   * reader's feature names or its "[Source: ...]" locations.
   */
  @Test
  void malformedJsonIsDescribedInTheFilesTerms() {
    assertMalformed(
        "{\n  \"peft_type\": \"LORA\",\n  \"lora_alpha\": NaN\n}",
        "Cannot parse adapter config /a/adapter_config.json: not valid JSON at line 3, column 20:"
            + " NaN is not a JSON number; JSON has no NaN or Infinity, write a finite number.");
    assertMalformed(
        "{\"lora_alpha\": -Infinity}",
        "not valid JSON at line 1, column 25: -Infinity is not a JSON number");
    assertMalformed(
        "{\n  \"r\": 8,\n  \"x\": [1,\n}", "not valid JSON at line 4, column 1: unexpected '}'.");
    assertMalformed("{'r': 8}", "not valid JSON at line 1, column 2: unexpected \"'\".");
    assertMalformed("// LoRA\n{}", "not valid JSON at line 1, column 1: unexpected '/'.");
    assertMalformed(
        "{\"r\": 8} {\"r\": 9}",
        "not valid JSON at line 1, column 10: more text follows the end of the JSON object.");
    assertMalformed("{\"r\": tru}", "not valid JSON at line 1, column 7: unexpected 'tru'.");
    assertMalformed(
        "{\"r\": 08}", "not valid JSON at line 1, column 8: a number with a leading zero.");
    assertMalformed(
        "{\"bias\": \"\\q\"}", "not valid JSON at line 1, column 12: \\q is not a JSON escape.");
    assertMalformed("", "Cannot parse adapter config /a/adapter_config.json: the file is empty.");
    assertMalformed("[\"LORA\"]", "expected a JSON object, found an array.");
  }

  private static void assertMalformed(String json, String expected) {
    assertBad(json, expected);
    FileFormatException e = assertThrows(FileFormatException.class, () -> parse(json));
    for (String internal : List.of("Feature", "Source:", "`", "code ", "VALUE_", "MISSING")) {
      assertFalse(e.getMessage().contains(internal), e.getMessage());
    }
  }

  /** A control character in the file is named escaped: it cannot reach the terminal raw. */
  @Test
  void controlCharactersAreNamedEscaped() {
    assertBad(
        "{\"bias\": \"none\u001b[2J\"}",
        "not valid JSON at line 1, column 15: control character '\\u001b' inside a string; JSON"
            + " needs it escaped.");
    assertBad(
        "\u001b[31m{}",
        "not valid JSON at line 1, column 2: control character '\\u001b' outside any string.");
  }

  private static void assertBad(String json, String expected) {
    FileFormatException e = assertThrows(FileFormatException.class, () -> parse(json));
    assertTrue(e.getMessage().contains("/a/adapter_config.json"), e.getMessage());
    assertTrue(
        e.getMessage().contains(expected),
        () -> "expected \"" + expected + "\" in: " + e.getMessage());
  }
}
