package dev.knots.sweep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.Scope;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Reading a sweep file: the expansion of combinations and grid, and every refusal's message. */
class SweepFileTest {
  private static final String FILE = "conf/sweeps/test.yaml";

  /** Four adapters on lines 1 to 5; what a test adds starts on line 6. */
  private static final String POOL =
      """
      adapters:
        rot90: examples/digits/adapters/rot90
        hflip: examples/digits/adapters/hflip
        invert: examples/digits/adapters/invert
        vflip: examples/digits/adapters/vflip_ge5
      """;

  /** The contract's example, with a pool of four so that leave-one-out leaves pairs and more. */
  private static final String EXAMPLE =
      POOL
          + """
          base: examples/digits/base_model
          combinations:
            - all
            - [rot90, hflip]
            - subsets: 2
            - leave-one-out
          grid:
            method: [knots-ties, ties]
            top-k: [10, 20, 50]
            scaling: [0.2, 0.5]
            dare-drop: [0.5]
            seed: [0]
            scope: global
            concat: output
          output: out/digits-sweep
          format: adapter
          evaluate:
            command: [python3, scripts/evaluate_merge.py, --adapter, "{output}", --tasks, "{adapters}", --split, val, --json]
            timeout: 3600
            parallelism: 1
          select:
            metric: eval.avg_norm
            mode: max
          """;

  @Test
  void theContractsExampleHasTwelvePointsAndEveryCombinationOnce() {
    SweepFile file = SweepFile.parse(FILE, EXAMPLE);

    assertEquals(
        List.of(
            "knots-ties_topk10_s0.2",
            "knots-ties_topk10_s0.5",
            "knots-ties_topk20_s0.2",
            "knots-ties_topk20_s0.5",
            "knots-ties_topk50_s0.2",
            "knots-ties_topk50_s0.5",
            "ties_topk10_s0.2",
            "ties_topk10_s0.5",
            "ties_topk20_s0.2",
            "ties_topk20_s0.5",
            "ties_topk50_s0.2",
            "ties_topk50_s0.5"),
        file.points().stream().map(Point::id).toList());
    Point first = file.points().get(0);
    assertEquals(
        new Point(
            MergeMethods.byName("knots-ties"),
            10,
            0.2,
            OptionalDouble.empty(),
            OptionalLong.empty(),
            Scope.GLOBAL,
            Optional.of(Concat.OUTPUT)),
        first);
    assertEquals(Optional.empty(), file.points().get(6).concat());

    // all; the explicit pair; subsets: 2 adds the other five pairs; leave-one-out adds the four
    // triples (its last one, the pool without vflip, is new: only the whole pool is "all")
    assertEquals(
        List.of(
            "all",
            "rot90+hflip",
            "rot90+invert",
            "rot90+vflip",
            "hflip+invert",
            "hflip+vflip",
            "invert+vflip",
            "hflip+invert+vflip",
            "rot90+invert+vflip",
            "rot90+hflip+vflip",
            "rot90+hflip+invert"),
        file.combinations().stream().map(Combination::id).toList());
    assertEquals(List.of("rot90", "hflip", "invert", "vflip"), file.combinations().get(0).names());
    assertEquals(List.of("hflip", "invert", "vflip"), file.combinations().get(7).names());

    assertEquals(SweepFile.InputKind.ADAPTERS, file.kind());
    assertEquals(List.of("rot90", "hflip", "invert", "vflip"), List.copyOf(file.pool().keySet()));
    assertEquals("examples/digits/adapters/vflip_ge5", file.pool().get("vflip"));
    assertEquals(Optional.of("examples/digits/base_model"), file.base());
    assertEquals(Optional.of("out/digits-sweep"), file.output());
    assertEquals(Optional.of("adapter"), file.format());
    assertEquals(
        new Evaluation(
            List.of(
                "python3",
                "scripts/evaluate_merge.py",
                "--adapter",
                "{output}",
                "--tasks",
                "{adapters}",
                "--split",
                "val",
                "--json"),
            3600,
            1),
        file.evaluate().orElseThrow());
    assertEquals(new Selection("eval.avg_norm", true), file.select().orElseThrow());
    assertEquals(CommonOptions.defaults(), file.common());
    assertEquals(FILE, file.location());
  }

  @Test
  void aFileWithOnlyAPoolAndAMethodTakesTheMergesDefaults() {
    SweepFile file = SweepFile.parse(FILE, POOL + "grid:\n  method: ties\n");

    assertEquals(List.of("all"), file.combinations().stream().map(Combination::id).toList());
    assertEquals(List.of("ties_topk100_s1"), file.points().stream().map(Point::id).toList());
    assertEquals(Optional.empty(), file.output());
    assertEquals(Optional.empty(), file.format());
    assertEquals(Optional.empty(), file.evaluate());
    assertEquals(Optional.empty(), file.select());
    assertEquals(CommonOptions.defaults(), file.common());
  }

  @Test
  void theGridVariesItsFirstKeySlowestWhateverTheFileOrder() {
    SweepFile file =
        SweepFile.parse(
            FILE,
            POOL
                + """
                grid:
                  seed: [0, 7]
                  scaling: 1.50
                  top-k: [20.0, 10]
                  method: dare-ties
                """);

    assertEquals(
        List.of(
            "dare-ties_topk20_s1.5_drop0.5_seed0",
            "dare-ties_topk20_s1.5_drop0.5_seed7",
            "dare-ties_topk10_s1.5_drop0.5_seed0",
            "dare-ties_topk10_s1.5_drop0.5_seed7"),
        file.points().stream().map(Point::id).toList());
  }

  @Test
  void keysThatDoNotApplyToAMethodAreDroppedAndIdenticalPointsMerged() {
    SweepFile file =
        SweepFile.parse(
            FILE,
            POOL
                + """
                grid:
                  method: [ta, ties, dare-linear, knots-ta]
                  dare-drop: 0.3
                  seed: 1
                  scope: [global, module]
                  concat: [output, input]
                """);

    // top-k 100: ta and the DARE/KnOTS sums elect no sign and prune nothing, so scope does not
    // apply to them; DARE's keys apply to dare-* only, concat to knots-* only
    assertEquals(
        List.of(
            "ta_topk100_s1",
            "ties_topk100_s1",
            "ties_topk100_s1_module",
            "dare-linear_topk100_s1_drop0.3_seed1",
            "knots-ta_topk100_s1",
            "knots-ta_topk100_s1_concat-input"),
        file.points().stream().map(Point::id).toList());
    Point ta = file.points().get(0);
    assertEquals(OptionalDouble.empty(), ta.dareDrop());
    assertEquals(OptionalLong.empty(), ta.seed());
    assertEquals(Scope.GLOBAL, ta.scope());
    assertEquals(Optional.empty(), ta.concat());
    Point dare = file.points().get(3);
    assertEquals(OptionalDouble.of(0.3), dare.dareDrop());
    assertEquals(OptionalLong.of(1), dare.seed());
  }

  @Test
  void scopeAppliesToAMethodWithoutSignVoteOnceTopKPrunes() {
    SweepFile file =
        SweepFile.parse(
            FILE,
            POOL
                + """
                grid:
                  method: ta
                  top-k: [100, 30]
                  scope: [global, module]
                """);

    assertEquals(
        List.of("ta_topk100_s1", "ta_topk30_s1", "ta_topk30_s1_module"),
        file.points().stream().map(Point::id).toList());
  }

  @Test
  void equalValuesWrittenDifferentlyAreOnePoint() {
    SweepFile file =
        SweepFile.parse(FILE, POOL + "grid:\n  method: ties\n  top-k: [20, 20.0, 2e1]\n");

    assertEquals(List.of("ties_topk20_s1"), file.points().stream().map(Point::id).toList());
  }

  @Test
  void subsetsAreEveryKSubsetInPoolOrder() {
    SweepFile file =
        SweepFile.parse(
            FILE,
            POOL
                + """
                combinations:
                  - subsets: 3
                  - subsets: 4
                grid: {method: ties}
                """);

    assertEquals(
        List.of(
            List.of("rot90", "hflip", "invert"),
            List.of("rot90", "hflip", "vflip"),
            List.of("rot90", "invert", "vflip"),
            List.of("hflip", "invert", "vflip"),
            List.of("rot90", "hflip", "invert", "vflip")),
        file.combinations().stream().map(Combination::names).toList());
    assertEquals("all", file.combinations().get(4).id());
  }

  @Test
  void leaveOneOutLeavesEachInputOutInPoolOrder() {
    SweepFile file =
        SweepFile.parse(FILE, POOL + "combinations: [leave-one-out]\ngrid: {method: ties}\n");

    assertEquals(
        List.of(
            "hflip+invert+vflip", "rot90+invert+vflip", "rot90+hflip+vflip", "rot90+hflip+invert"),
        file.combinations().stream().map(Combination::id).toList());
  }

  @Test
  void anExplicitListKeepsItsOrderAndTheWholePoolInPoolOrderIsAll() {
    SweepFile file =
        SweepFile.parse(
            FILE,
            POOL
                + """
                combinations:
                  - [vflip, rot90]
                  - [rot90, hflip, invert, vflip]
                  - [vflip, invert, hflip, rot90]
                grid: {method: ties}
                """);

    assertEquals(
        List.of("vflip+rot90", "all", "vflip+invert+hflip+rot90"),
        file.combinations().stream().map(Combination::id).toList());
    assertEquals(List.of("vflip", "rot90"), file.combinations().get(0).names());
  }

  @Test
  void aCombinationIdOverOneHundredCharactersIsAHashOfIt() throws Exception {
    String a = "a".repeat(49);
    String b = "b".repeat(50);
    String c = "c".repeat(50);
    SweepFile file =
        SweepFile.parse(
            FILE,
            String.format(
                "adapters:\n  %s: x/a\n  %s: x/b\n  %s: x/c\n"
                    + "combinations: [[%s, %s], [%s, %s]]\ngrid: {method: ties}\n",
                a, b, c, a, b, b, c));

    String exactlyHundred = a + "+" + b;
    assertEquals(100, exactlyHundred.length());
    String overHundred = b + "+" + c;
    byte[] sha =
        MessageDigest.getInstance("SHA-256").digest(overHundred.getBytes(StandardCharsets.UTF_8));
    String hashed = HexFormat.of().formatHex(sha).substring(0, 12) + "-n2";
    assertEquals(
        List.of(exactlyHundred, hashed),
        file.combinations().stream().map(Combination::id).toList());
    assertEquals(List.of(b, c), file.combinations().get(1).names());
  }

  @Test
  void aJsonFileIsReadAsYaml() {
    SweepFile file =
        SweepFile.parse(
            "sweep.json",
            """
            {
              "adapters": {"rot90": "a/rot90", "hflip": "a/hflip"},
              "combinations": [["hflip", "rot90"]],
              "grid": {"method": ["knots-dare-ties"], "top-k": [20], "scaling": [0.60],
                       "dare-drop": 0.25, "seed": 3, "scope": "module", "concat": "input"},
              "format": "none",
              "skip-unsupported": true,
              "select": {"metric": "merged_norm", "mode": "min"}
            }
            """);

    assertEquals(
        List.of("hflip+rot90"), file.combinations().stream().map(Combination::id).toList());
    assertEquals(
        List.of("knots-dare-ties_topk20_s0.6_drop0.25_seed3_module_concat-input"),
        file.points().stream().map(Point::id).toList());
    assertEquals(Optional.of("none"), file.format());
    assertTrue(file.common().skipUnsupported());
    assertEquals(new Selection("merged_norm", false), file.select().orElseThrow());
  }

  @Test
  void finetunedCheckpointsTakeTheCheckpointOptions() {
    SweepFile file =
        SweepFile.parse(
            FILE,
            """
            finetuned:
              math: models/math
              code: models/code
            base: models/base
            format: both
            exclude: "embed|lm_head"
            vectors: base
            lora-rank: 64
            align-path: dense
            task-memory: 2g
            driver-memory-budget: 1.5g
            grid: {method: knots-ties}
            """);

    assertEquals(SweepFile.InputKind.FINETUNED, file.kind());
    assertEquals(
        new CommonOptions(
            Optional.of("embed|lm_head"),
            Optional.of("base"),
            OptionalInt.of(64),
            Optional.of("dense"),
            Optional.of("2g"),
            Optional.of("1.5g"),
            false),
        file.common());
  }

  // ---- refusals: each names the file, the line, the key path and the value or name

  @Test
  void aRefusalIsAnInvalidOptionOfTheConfigFile() {
    SweepFileException e = refused(POOL + "grid:\n  method: ties\n  top-k: 150\n");

    assertTrue(e instanceof InvalidOptionException);
    assertEquals("--config", e.option());
    assertEquals(8, e.line());
    assertEquals("grid.top-k", e.key());
    assertEquals(
        "Invalid sweep file conf/sweeps/test.yaml, line 8: grid.top-k: 150: must be a percentage"
            + " in (0, 100].",
        e.getMessage());
  }

  @Test
  void anUnknownKeyIsRefusedListingTheKnownOnes() {
    assertEquals(
        "Invalid sweep file conf/sweeps/test.yaml, line 7: outptu: unknown key; the keys of a"
            + " sweep file are adapters, finetuned, base, combinations, grid, output, format,"
            + " evaluate, select, exclude, vectors, lora-rank, align-path, task-memory,"
            + " driver-memory-budget, skip-unsupported.",
        refused(POOL + "grid: {method: ties}\noutptu: out/x\n").getMessage());
    assertRefused(
        POOL + "grid: {method: ties}\ntop-k: 20\n",
        7,
        "top-k",
        "unknown key here: top-k is swept, so it goes under grid:");
    assertRefused(
        POOL + "grid:\n  method: ties\n  topk: 20\n",
        8,
        "grid.topk",
        "unknown key; the keys of grid are method, top-k, scaling, dare-drop, seed, scope, concat");
    assertRefused(
        POOL + "grid:\n  method: ties\n  exclude: embed\n",
        8,
        "grid.exclude",
        "exclude is not swept; give it at the top level");
    assertRefused(
        POOL + "grid: {method: ties}\nevaluate:\n  command: [x]\n  retries: 2\n",
        9,
        "evaluate.retries",
        "unknown key; the keys of evaluate are command, timeout, parallelism");
    assertRefused(
        POOL + "grid: {method: ties}\nselect:\n  metric: merged_norm\n  order: max\n",
        9,
        "select.order",
        "unknown key; the keys of select are metric, mode");
    assertRefused(
        POOL + "combinations:\n  - size: 2\ngrid: {method: ties}\n",
        7,
        "combinations[0].size",
        "unknown key; the keys of a combination are subsets");
  }

  @Test
  void thePoolIsEitherAdaptersOrFinetuned() {
    assertRefused(
        POOL + "finetuned:\n  a: m/a\n  b: m/b\nbase: m\ngrid: {method: ties}\n",
        6,
        "finetuned",
        "the file gives both adapters: and finetuned:");
    assertRefused(
        "base: m\ngrid: {method: ties}\n", 1, "adapters", "missing; give the pool of inputs");
    assertRefused(
        "adapters:\n  - a/rot90\n  - a/hflip\ngrid: {method: ties}\n",
        2,
        "adapters",
        "is a list; give a mapping: name: directory");
    assertRefused(
        "adapters:\n  rot90: a/rot90\ngrid: {method: ties}\n",
        1,
        "adapters",
        "lists 1 input, rot90; a merge needs at least 2");
    assertRefused(
        "adapters:\ngrid: {method: ties}\n", 1, "adapters", "lists no adapters; a merge needs");
    assertRefused(
        "adapters:\n  rot90: a/rot90\n  hflip:\ngrid: {method: ties}\n",
        3,
        "adapters.hflip",
        "has no value; give the directory of hflip");
  }

  @Test
  void aNameGivenTwiceInThePoolIsRefused() {
    assertRefused(
        POOL + "  hflip: elsewhere/hflip\ngrid: {method: ties}\n",
        6,
        "adapters.hflip",
        "given twice (lines 3 and 6); keep one");
  }

  @ParameterizedTest
  @ValueSource(strings = {"\"\"", ".", "..", "a/b", "a+b", "\"a,b\"", "a;b", "'a\\b'", "\"a\\tb\""})
  void aNameThatCannotNameADirectoryIsRefused(String name) {
    SweepFileException e =
        refused("adapters:\n  ok: a/ok\n  " + name + ": a/x\ngrid: {method: ties}\n");

    assertEquals(3, e.line());
    assertEquals("adapters", e.key());
    assertTrue(e.getMessage().contains("cannot be used"), e.getMessage());
    String written = name.replace("\"", "").replace("'", "").replace("\\t", "\t");
    assertTrue(e.getMessage().contains("the name '" + written + "'"), e.getMessage());
  }

  @Test
  void aCombinationMustNameAtLeastTwoInputsOfThePoolOnce() {
    assertRefused(
        POOL + "combinations:\n  - all\n  - [rot90, hflp]\ngrid: {method: ties}\n",
        8,
        "combinations[1][1]",
        "no input of adapters: is called hflp; its names are rot90, hflip, invert, vflip");
    assertRefused(
        POOL + "combinations:\n  - [rot90, hflip, rot90]\ngrid: {method: ties}\n",
        7,
        "combinations[0][2]",
        "rot90 is listed twice; list each input once");
    assertRefused(
        POOL + "combinations:\n  - [rot90]\ngrid: {method: ties}\n",
        7,
        "combinations[0]",
        "lists 1 input; a merge needs at least 2");
    assertRefused(
        POOL + "combinations:\n  - all\n  - rot90\ngrid: {method: ties}\n",
        8,
        "combinations[1]",
        "rot90 alone is not a combination: a merge needs at least 2 inputs; list them, such as"
            + " [rot90, hflip]");
    assertRefused(
        POOL + "combinations:\n  - everything\ngrid: {method: ties}\n",
        7,
        "combinations[0]",
        "everything is not a combination; write all, leave-one-out, a list of names such as"
            + " [rot90, hflip], or subsets: <k>");
    assertRefused(
        POOL + "combinations: []\ngrid: {method: ties}\n",
        6,
        "combinations",
        "lists no combination");
  }

  @Test
  void subsetsNeedAtLeastTwoAndAtMostThePool() {
    assertRefused(
        POOL + "combinations:\n  - subsets: 1\ngrid: {method: ties}\n",
        7,
        "combinations[0].subsets",
        "1 is not a whole number from 2 to the pool's size, 4: a merge needs at least 2 inputs");
    assertRefused(
        POOL + "combinations:\n  - subsets: 5\ngrid: {method: ties}\n",
        7,
        "combinations[0].subsets",
        "5 is not a whole number from 2 to the pool's size, 4: the pool has no larger subset");
    assertRefused(
        POOL + "combinations:\n  - subsets: two\ngrid: {method: ties}\n",
        7,
        "combinations[0].subsets",
        "two is not a number");
  }

  @Test
  void leaveOneOutOfTwoIsRefused() {
    assertRefused(
        "adapters: {a: x/a, b: x/b}\ncombinations:\n  - leave-one-out\ngrid: {method: ties}\n",
        3,
        "combinations[0]",
        "leave-one-out of a pool of 2 leaves 1 input per combination");
  }

  @Test
  void anEmptyGridOrOneWithoutMethodIsRefused() {
    assertRefused(POOL, 1, "grid", "missing; give grid: with at least method:");
    assertRefused(POOL + "grid:\n", 6, "grid", "is empty; give grid: with at least method:");
    assertRefused(POOL + "grid: {}\n", 6, "grid", "is empty");
    assertRefused(
        POOL + "grid:\n  top-k: 20\n",
        6,
        "grid.method",
        "missing; every point needs a merge method");
  }

  @Test
  void gridValuesAreCheckedByTheMergesOwnRules() {
    assertRefused(
        POOL + "grid:\n  method: [ties, knots-tie]\n",
        7,
        "grid.method[1]",
        "knots-tie: unknown method; choose one of ta, ties,");
    assertRefused(
        POOL + "grid:\n  method: ties\n  top-k:\n    - 10\n    - 0\n",
        10,
        "grid.top-k[1]",
        "0: must be a percentage in (0, 100]");
    assertRefused(
        POOL + "grid:\n  method: ties\n  scaling: [0.5, 1e39]\n",
        8,
        "grid.scaling[1]",
        "1e39: every coefficient must be a finite number");
    assertRefused(
        POOL + "grid:\n  method: ties\n  scaling: half\n",
        8,
        "grid.scaling",
        "half is not a number");
    assertRefused(
        POOL + "grid:\n  method: dare-ties\n  dare-drop: 1\n",
        8,
        "grid.dare-drop",
        "1: must be in [0, 1)");
    assertRefused(
        POOL + "grid:\n  method: dare-ties\n  seed: 1.5\n",
        8,
        "grid.seed",
        "1.5 is not a whole number");
    assertRefused(
        POOL + "grid:\n  method: ties\n  scope: layer\n",
        8,
        "grid.scope",
        "layer: must be global or module");
    assertRefused(
        POOL + "grid:\n  method: knots-ties\n  concat: both\n",
        8,
        "grid.concat",
        "both: must be output or input");
    assertRefused(
        POOL + "grid:\n  method: ties\n  top-k: []\n",
        8,
        "grid.top-k",
        "the list is empty; give a value or a non-empty list of values");
    assertRefused(
        POOL + "grid:\n  method: ties\n  top-k: [[10, 20]]\n",
        8,
        "grid.top-k[0]",
        "is a list; give a value or a non-empty list of values");
  }

  @Test
  void theFormatMustBeOneAndAModelNeedsTheBase() {
    assertRefused(
        POOL + "grid: {method: ties}\nformat: safetensors\n",
        7,
        "format",
        "safetensors: must be one of adapter, model, both, none");
    assertRefused(
        POOL + "grid: {method: ties}\nformat: both\n",
        7,
        "format",
        "both writes the merged model, which needs the base model: add base: <directory>");
    assertRefused(
        "finetuned: {a: m/a, b: m/b}\ngrid: {method: ties}\n",
        1,
        "finetuned",
        "a checkpoint's update is finetuned - base, so base: is required");
    assertRefused(
        "finetuned: {a: m/a, b: m/b}\nbase: m\nformat: adapter\ngrid: {method: ties}\n",
        3,
        "format",
        "adapter with finetuned: an adapter is a LoRA extracted from the merged update: add"
            + " lora-rank: <r>");
  }

  @Test
  void theMergesOtherOptionsAreCheckedAsTheMergeChecksThem() {
    assertRefused(
        POOL + "grid: {method: ties}\nexclude: embed\n",
        7,
        "exclude",
        "applies only to full fine-tuned checkpoints (finetuned:)");
    String checkpoints = "finetuned: {a: m/a, b: m/b}\nbase: m\ngrid: {method: ties}\n";
    assertRefused(
        checkpoints + "exclude: \"embed(\"\n",
        4,
        "exclude",
        "embed(: not a valid regular expression");
    assertRefused(checkpoints + "vectors: drop\n", 4, "vectors", "drop: must be merge or base");
    assertRefused(checkpoints + "lora-rank: 0\n", 4, "lora-rank", "0: must be at least 1");
    assertRefused(
        checkpoints + "skip-unsupported: true\n",
        4,
        "skip-unsupported",
        "applies only to LoRA adapters (adapters:)");
    assertRefused(
        POOL + "grid: {method: ties}\nalign-path: fast\n",
        7,
        "align-path",
        "fast: must be auto, factor, dense or distributed");
    assertRefused(
        POOL + "grid: {method: ties}\ntask-memory: lots\n",
        7,
        "task-memory",
        "lots: 'lots' is not a size");
    assertRefused(
        POOL + "grid: {method: ties}\ndriver-memory-budget: 0\n",
        7,
        "driver-memory-budget",
        "0: it must be more than 0 bytes");
    assertRefused(
        POOL + "grid: {method: ties}\nskip-unsupported: yes please\n",
        7,
        "skip-unsupported",
        "yes please: must be true or false");
  }

  @Test
  void theEvaluatorIsAnArgumentListWithAPositiveTimeoutAndParallelism() {
    String file = POOL + "grid: {method: ties}\n";
    assertRefused(file + "evaluate:\n  timeout: 60\n", 7, "evaluate.command", "missing;");
    assertRefused(
        file + "evaluate:\n  command: python3 eval.py --json\n",
        8,
        "evaluate.command",
        "python3 eval.py --json is a single value; give the evaluator's arguments as a list");
    assertRefused(
        file + "evaluate:\n  command: []\n", 8, "evaluate.command", "the list is empty; give");
    assertRefused(
        file + "evaluate:\n  command: [x]\n  timeout: 0\n",
        9,
        "evaluate.timeout",
        "0: must be more than 0 seconds");
    assertRefused(
        file + "evaluate:\n  command: [x]\n  timeout: 1h\n",
        9,
        "evaluate.timeout",
        "1h is not a number; give a whole number of seconds");
    assertRefused(
        file + "evaluate:\n  command: [x]\n  parallelism: 0\n",
        9,
        "evaluate.parallelism",
        "0: must be at least 1");
    Evaluation defaults =
        SweepFile.parse(FILE, file + "evaluate: {command: [x]}\n").evaluate().get();
    assertEquals(new Evaluation(List.of("x"), 3600, 1), defaults);
  }

  @Test
  void theSelectionNamesAColumnTheTableWillHave() {
    String file = POOL + "grid: {method: ties}\n";
    assertRefused(file + "select:\n  mode: max\n", 7, "select.metric", "missing;");
    assertRefused(
        file + "select:\n  metric: eval.avg_norm\n",
        8,
        "select.metric",
        "eval.avg_norm: eval.* columns come from the evaluator, and the file has no evaluate:");
    assertRefused(
        file + "select:\n  metric: retention.vflip_ge5\n",
        8,
        "select.metric",
        "retention.vflip_ge5: the pool has no input of that name; its names are rot90, hflip,");
    assertRefused(
        file + "select:\n  metric: merged_norm\n  mode: maximum\n",
        9,
        "select.mode",
        "maximum: must be max or min");
    assertEquals(
        new Selection("retention.vflip", true),
        SweepFile.parse(FILE, file + "select: {metric: retention.vflip}\n").select().get());
  }

  @Test
  void aFileThatIsNotOneYamlMappingIsRefusedAtItsLine() {
    SweepFileException syntax = refused(POOL + "grid:\n  method: [ties, ta\noutput: x\n");
    assertEquals(8, syntax.line());
    assertEquals("", syntax.key());
    assertTrue(
        syntax
            .getMessage()
            .startsWith("Invalid sweep file conf/sweeps/test.yaml, line 8: not valid YAML: "),
        syntax.getMessage());
    assertTrue(
        syntax.getMessage().contains("(while parsing a flow sequence that begins on line 7)"),
        syntax.getMessage());
    assertFalse(syntax.getMessage().contains("\n"), syntax.getMessage());

    assertRefused("", 1, "", "the file is empty");
    assertRefused("- a\n- b\n", 1, "", "the file holds a list; a sweep file is a mapping");
    assertRefused(
        POOL + "grid: {method: ties}\n---\nother: 1\n",
        8,
        "",
        "a second YAML document begins (after ---)");
    assertRefused(
        POOL + "grid: {method: ties}\ngrid: {method: ta}\n",
        7,
        "grid",
        "given twice (lines 6 and 7); keep one");
    assertRefused(
        "adapters:\n  a: &dir x/a\n  b: *dir\ngrid: {method: ties}\n",
        3,
        "adapters.b",
        "*dir refers to an anchor, which sweep files do not use; write the value out");
  }

  private static SweepFileException refused(String text) {
    return assertThrows(SweepFileException.class, () -> SweepFile.parse(FILE, text));
  }

  /**
   * The refusal of {@code text} is at {@code line}, names {@code key} and says {@code what} (the
   * value or name at fault and the rule).
   */
  private static void assertRefused(String text, int line, String key, String what) {
    SweepFileException e = refused(text);
    String where =
        "Invalid sweep file " + FILE + ", line " + line + ": " + (key.isEmpty() ? "" : key + ": ");
    assertTrue(e.getMessage().startsWith(where), e.getMessage());
    assertTrue(e.getMessage().contains(what), e.getMessage());
    assertTrue(e.getMessage().endsWith("."), e.getMessage());
    assertEquals(line, e.line());
    assertEquals(key, e.key());
  }
}
