package dev.knots.sweep;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.knots.job.OutputFormat;
import dev.knots.knots.Concat;
import dev.knots.merge.InvalidOptionException;
import dev.knots.merge.MergeMethod;
import dev.knots.merge.MergeMethods;
import dev.knots.merge.MergeParameters;
import dev.knots.merge.Scope;
import dev.knots.plan.AlignPath;
import dev.knots.plan.PathRequest;
import dev.knots.plan.VectorPolicy;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads a sweep file's YAML (or JSON, which is YAML too) into a validated {@link SweepFile}. The
 * streaming parser's tokens become a small tree that keeps the line of every key and value, so that
 * each refusal names the line and the key path as the user wrote it ({@code grid.top-k[1]}, {@code
 * combinations[2]}).
 */
final class SweepFileParser {
  private static final YAMLFactory YAML = new YAMLFactory();

  private static final String ADAPTERS = "adapters";
  private static final String FINETUNED = "finetuned";
  private static final String BASE = "base";
  private static final String COMBINATIONS = "combinations";
  private static final String GRID = "grid";
  private static final String OUTPUT = "output";
  private static final String FORMAT = "format";
  private static final String EVALUATE = "evaluate";
  private static final String SELECT = "select";

  private static final String METHOD = "method";
  private static final String TOP_K = "top-k";
  private static final String SCALING = "scaling";
  private static final String DARE_DROP = "dare-drop";
  private static final String SEED = "seed";
  private static final String SCOPE = "scope";
  private static final String CONCAT = "concat";

  /** In this order the grid's product varies, the first key slowest. */
  private static final List<String> GRID_KEYS =
      List.of(METHOD, TOP_K, SCALING, DARE_DROP, SEED, SCOPE, CONCAT);

  private static final String EXCLUDE = "exclude";
  private static final String VECTORS = "vectors";
  private static final String LORA_RANK = "lora-rank";
  private static final String ALIGN_PATH = "align-path";
  private static final String TASK_MEMORY = "task-memory";
  private static final String DRIVER_MEMORY_BUDGET = "driver-memory-budget";
  private static final String SKIP_UNSUPPORTED = "skip-unsupported";

  /** The merge's options outside the grid, named as the merge's options are. */
  private static final List<String> COMMON_KEYS =
      List.of(
          EXCLUDE,
          VECTORS,
          LORA_RANK,
          ALIGN_PATH,
          TASK_MEMORY,
          DRIVER_MEMORY_BUDGET,
          SKIP_UNSUPPORTED);

  private static final List<String> TOP_KEYS =
      Stream.concat(
              Stream.of(
                  ADAPTERS, FINETUNED, BASE, COMBINATIONS, GRID, OUTPUT, FORMAT, EVALUATE, SELECT),
              COMMON_KEYS.stream())
          .toList();

  private static final String ALL = "all";
  private static final String LEAVE_ONE_OUT = "leave-one-out";
  private static final String SUBSETS = "subsets";

  private static final String COMMAND = "command";
  private static final String TIMEOUT = "timeout";
  private static final String PARALLELISM = "parallelism";
  private static final long DEFAULT_TIMEOUT_SECONDS = 3600;

  private static final String METRIC = "metric";
  private static final String MODE = "mode";

  /** A combination id longer than this is replaced by a hash of it. */
  private static final int MAX_COMBINATION_ID = 100;

  private static final int HASH_HEX_DIGITS = 12;

  /** A value of the file: its key path as written, the line it starts on, what it holds. */
  private sealed interface Node permits Scalar, Sequence, Mapping {
    String path();

    int line();
  }

  /** A single value, as written; {@code key:} and {@code ~} give one whose token is null. */
  private record Scalar(String path, int line, String text, JsonToken token) implements Node {
    boolean isNull() {
      return token == JsonToken.VALUE_NULL;
    }
  }

  private record Sequence(String path, int line, List<Node> items) implements Node {}

  /** A key and its own line, which can differ from its value's. */
  private record Entry(String key, int line, Node value) {
    String path() {
      return value.path();
    }
  }

  private record Mapping(String path, int line, Map<String, Entry> entries) implements Node {}

  private final String location;

  private SweepFileParser(String location) {
    this.location = location;
  }

  /**
   * Reads and validates the {@code text} of the sweep file at {@code location}.
   *
   * @throws SweepFileException naming the file, the line and the key at fault
   */
  static SweepFile parse(String location, String text) {
    SweepFileParser parser = new SweepFileParser(location);
    return parser.file(parser.document(text));
  }

  private SweepFile file(Mapping root) {
    Map<String, Entry> top = keys(root, TOP_KEYS, "a sweep file");
    Entry adapters = top.get(ADAPTERS);
    Entry finetuned = top.get(FINETUNED);
    if (adapters != null && finetuned != null) {
      throw fail(
          Math.max(adapters.line(), finetuned.line()),
          adapters.line() > finetuned.line() ? ADAPTERS : FINETUNED,
          "the file gives both adapters: and finetuned:; a sweep merges either LoRA adapters or"
              + " full fine-tuned checkpoints, so keep one");
    }
    if (adapters == null && finetuned == null) {
      throw fail(
          root.line(),
          ADAPTERS,
          "missing; give the pool of inputs as adapters: (LoRA adapters) or finetuned: (full"
              + " fine-tuned checkpoints, with base:), one name: directory per line");
    }
    Entry poolEntry = adapters != null ? adapters : finetuned;
    SweepFile.InputKind kind =
        adapters != null ? SweepFile.InputKind.ADAPTERS : SweepFile.InputKind.FINETUNED;
    LinkedHashMap<String, String> pool = pool(poolEntry);
    List<String> names = List.copyOf(pool.keySet());

    Optional<String> base = optional(top, BASE).map(node -> location(node, "the base model"));
    List<Combination> combinations = combinations(top.get(COMBINATIONS), names, poolEntry.key());
    List<Point> points = points(top.get(GRID), root);
    Optional<String> output =
        optional(top, OUTPUT).map(node -> location(node, "the sweep's output"));
    Optional<OutputFormat> format = optional(top, FORMAT).map(this::format);
    CommonOptions common = common(top, kind);

    if (kind == SweepFile.InputKind.FINETUNED && base.isEmpty()) {
      throw fail(
          finetuned,
          "a checkpoint's update is finetuned - base, so base: is required: the directory of the"
              + " model they were all fine-tuned from");
    }
    Entry formatEntry = top.get(FORMAT);
    if (format.isPresent()) {
      OutputFormat written = format.get();
      if (written.writesModel() && base.isEmpty()) {
        throw fail(
            formatEntry,
            written.optionValue()
                + " writes the merged model, which needs the base model: add base: <directory>,"
                + " or use format: adapter");
      }
      if (kind == SweepFile.InputKind.FINETUNED
          && written.writesAdapter()
          && common.loraRank().isEmpty()) {
        throw fail(
            formatEntry,
            written.optionValue()
                + " with finetuned: an adapter is a LoRA extracted from the merged update: add"
                + " lora-rank: <r> (for example lora-rank: 64), or use format: model");
      }
    }

    Optional<Evaluation> evaluate = Optional.ofNullable(top.get(EVALUATE)).map(this::evaluation);
    Optional<Selection> select =
        Optional.ofNullable(top.get(SELECT))
            .map(entry -> selection(entry, names, evaluate.isPresent()));
    return new SweepFile(
        location,
        kind,
        pool,
        base,
        combinations,
        points,
        output,
        format.map(OutputFormat::optionValue),
        evaluate,
        select,
        common);
  }

  // ---- the pool

  private LinkedHashMap<String, String> pool(Entry entry) {
    String inputs = entry.key().equals(ADAPTERS) ? "adapters" : "checkpoints";
    Mapping mapping = mapping(entry.value(), "name: directory, one per line");
    LinkedHashMap<String, String> pool = new LinkedHashMap<>();
    for (Entry input : mapping.entries().values()) {
      checkName(input.key(), input.line(), entry.key());
      pool.put(input.key(), location(input.value(), "the directory of " + input.key()));
    }
    if (pool.size() < 2) {
      throw fail(
          entry,
          (pool.isEmpty()
                  ? "lists no " + inputs
                  : "lists 1 input, " + pool.keySet().iterator().next())
              + "; a merge needs at least 2: give them as name: directory, one per line");
    }
    return pool;
  }

  /**
   * A name becomes a directory name, part of combination ids joined with {@code +}, and of the
   * evaluator's {@code {adapters}} and the table's {@code adapters}, joined with {@code ,} and
   * {@code ;}.
   */
  private void checkName(String name, int line, String poolKey) {
    boolean unusable =
        name.isEmpty()
            || name.equals(".")
            || name.equals("..")
            || name.chars()
                .anyMatch(
                    c ->
                        c == '/'
                            || c == '\\'
                            || c == '+'
                            || c == ','
                            || c == ';'
                            || Character.isISOControl(c));
    if (unusable) {
      throw fail(
          line,
          poolKey,
          "the name '"
              + name
              + "' cannot be used: names become directory names and are joined with + in"
              + " combination ids (and with , and ; in the evaluator's {adapters} and the table),"
              + " so a name cannot be empty, . or .., nor hold /, \\, +, ,, ; or a control"
              + " character; rename it");
    }
  }

  // ---- combinations

  private List<Combination> combinations(Entry entry, List<String> pool, String poolKey) {
    if (entry == null) {
      return List.of(combination(pool, pool));
    }
    Node node = entry.value();
    List<Node> items = node instanceof Sequence sequence ? sequence.items() : List.of(node);
    if (items.isEmpty() || (node instanceof Scalar scalar && scalar.isNull())) {
      throw fail(
          entry,
          "lists no combination; list them (all, leave-one-out, [name, name, ...], subsets: k),"
              + " or leave combinations out to merge the whole pool");
    }
    Map<List<String>, Combination> combinations = new LinkedHashMap<>();
    for (Node item : items) {
      for (List<String> names : expand(item, pool, poolKey)) {
        combinations.putIfAbsent(names, combination(names, pool));
      }
    }
    return List.copyOf(combinations.values());
  }

  /** The name lists one item of {@code combinations:} stands for. */
  private List<List<String>> expand(Node item, List<String> pool, String poolKey) {
    String example = "[" + pool.get(0) + ", " + pool.get(1) + "]";
    String forms =
        "write all, leave-one-out, a list of names such as " + example + ", or subsets: <k>";
    if (item instanceof Sequence sequence) {
      return List.of(names(sequence, pool, poolKey));
    }
    if (item instanceof Mapping mapping) {
      Map<String, Entry> keys = keys(mapping, List.of(SUBSETS), "a combination");
      Entry subsets = keys.get(SUBSETS);
      if (subsets == null) {
        throw fail(mapping.line(), mapping.path(), "is empty; " + forms);
      }
      String range = "a whole number from 2 to the pool's size, " + pool.size();
      long k = whole(subsets.value(), range);
      if (k < 2 || k > pool.size()) {
        throw fail(
            subsets.value(),
            k
                + " is not "
                + range
                + (k < 2
                    ? ": a merge needs at least 2 inputs"
                    : ": the pool has no larger subset"));
      }
      return subsets(pool, (int) k);
    }
    Scalar scalar = (Scalar) item;
    if (scalar.isNull()) {
      throw fail(scalar, "is empty; " + forms);
    }
    if (scalar.text().equals(ALL)) {
      return List.of(pool);
    }
    if (scalar.text().equals(LEAVE_ONE_OUT)) {
      if (pool.size() < 3) {
        throw fail(
            scalar,
            "leave-one-out of a pool of 2 leaves 1 input per combination, and a merge needs at"
                + " least 2; add inputs to the pool, or use all");
      }
      return IntStream.range(0, pool.size())
          .mapToObj(
              left -> IntStream.range(0, pool.size()).filter(i -> i != left).mapToObj(pool::get))
          .map(Stream::toList)
          .toList();
    }
    if (pool.contains(scalar.text())) {
      throw fail(
          scalar,
          scalar.text()
              + " alone is not a combination: a merge needs at least 2 inputs; list them, such as "
              + example);
    }
    throw fail(scalar, scalar.text() + " is not a combination; " + forms);
  }

  /** An explicit combination: names of the pool, each once, at least 2. */
  private List<String> names(Sequence sequence, List<String> pool, String poolKey) {
    Set<String> names = new LinkedHashSet<>();
    for (Node item : sequence.items()) {
      String name = text(item, "a name from " + poolKey + ":");
      if (!pool.contains(name)) {
        throw fail(
            item,
            "no input of "
                + poolKey
                + ": is called "
                + name
                + "; its names are "
                + String.join(", ", pool));
      }
      if (!names.add(name)) {
        throw fail(item, name + " is listed twice; list each input once");
      }
    }
    if (names.size() < 2) {
      throw fail(
          sequence,
          "lists "
              + names.size()
              + " input"
              + (names.size() == 1 ? "" : "s")
              + "; a merge needs at least 2");
    }
    return List.copyOf(names);
  }

  /** Every {@code k}-subset of the pool, pool order inside each, in lexicographic index order. */
  private static List<List<String>> subsets(List<String> pool, int k) {
    List<List<String>> subsets = new ArrayList<>();
    int[] index = IntStream.range(0, k).toArray();
    while (true) {
      subsets.add(Arrays.stream(index).mapToObj(pool::get).toList());
      int i = k - 1;
      while (i >= 0 && index[i] == pool.size() - k + i) {
        i--;
      }
      if (i < 0) {
        return subsets;
      }
      index[i]++;
      for (int j = i + 1; j < k; j++) {
        index[j] = index[j - 1] + 1;
      }
    }
  }

  /**
   * {@code all} for the whole pool in pool order; else the names joined with {@code +}, or when
   * that is over 100 characters (a directory name must stay short) the first 12 hex digits of its
   * SHA-256 and {@code -n<count>}.
   */
  private static Combination combination(List<String> names, List<String> pool) {
    if (names.equals(pool)) {
      return new Combination(ALL, names);
    }
    String joined = String.join("+", names);
    if (joined.codePointCount(0, joined.length()) <= MAX_COMBINATION_ID) {
      return new Combination(joined, names);
    }
    try {
      byte[] hash =
          MessageDigest.getInstance("SHA-256").digest(joined.getBytes(StandardCharsets.UTF_8));
      String hex = HexFormat.of().formatHex(hash).substring(0, HASH_HEX_DIGITS);
      return new Combination(hex + "-n" + names.size(), names);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("Every Java runtime has SHA-256", e);
    }
  }

  // ---- the grid

  private List<Point> points(Entry entry, Mapping root) {
    String needed =
        "give grid: with at least method: (such as method: [knots-ties, ties]) and the values to"
            + " sweep";
    if (entry == null) {
      throw fail(root.line(), GRID, "missing; " + needed);
    }
    Mapping grid = mapping(entry.value(), "method:, top-k:, scaling:, ...");
    Map<String, Entry> keys = keys(grid, GRID_KEYS, GRID);
    if (keys.isEmpty()) {
      throw fail(entry, "is empty; " + needed);
    }
    if (!keys.containsKey(METHOD)) {
      throw fail(
          entry.line(),
          GRID + "." + METHOD,
          "missing; every point needs a merge method: give method: <name> or a list, such as"
              + " [knots-ties, ties]");
    }
    List<MergeMethod> methods =
        values(keys.get(METHOD), v -> valid(v, () -> MergeMethods.byName(v.text())));
    List<Double> topKs =
        values(
            keys,
            TOP_K,
            v -> checked(v, number(v, "a percentage"), MergeParameters.defaults()::withTopK),
            MergeParameters.DEFAULT_TOP_K);
    List<Double> scalings =
        values(
            keys,
            SCALING,
            v ->
                checked(
                    v,
                    number(v, "a number"),
                    lambda -> MergeParameters.defaults().withScaling(List.of(lambda))),
            MergeParameters.DEFAULT_SCALING);
    List<Double> drops =
        values(
            keys,
            DARE_DROP,
            v ->
                checked(
                    v,
                    number(v, "a drop rate"),
                    p -> MergeParameters.defaults().withDare(p, MergeParameters.DEFAULT_SEED)),
            MergeParameters.DEFAULT_DARE_DROP);
    List<Long> seeds =
        values(keys, SEED, v -> whole(v, "a whole number"), MergeParameters.DEFAULT_SEED);
    List<Scope> scopes =
        values(keys, SCOPE, v -> valid(v, () -> Scope.parse(v.text())), Scope.GLOBAL);
    List<Concat> concats = values(keys, CONCAT, this::concat, Concat.OUTPUT);

    Set<Point> points = new LinkedHashSet<>();
    for (MergeMethod method : methods) {
      for (double topK : topKs) {
        for (double scaling : scalings) {
          for (double drop : drops) {
            for (long seed : seeds) {
              for (Scope scope : scopes) {
                for (Concat concat : concats) {
                  points.add(point(method, topK, scaling, drop, seed, scope, concat));
                }
              }
            }
          }
        }
      }
    }
    return List.copyOf(points);
  }

  /**
   * A point with the keys that do not apply to {@code method} dropped, as the merge refuses them:
   * DARE's keys for other methods, concat for unaligned ones, and scope where there is neither a
   * threshold nor a sign vote to scope.
   */
  private static Point point(
      MergeMethod method,
      double topK,
      double scaling,
      double drop,
      long seed,
      Scope scope,
      Concat concat) {
    boolean dare = method.dropsAndRescales();
    boolean scoped = method.electsSign() || topK < 100;
    return new Point(
        method,
        topK,
        scaling,
        dare ? OptionalDouble.of(drop) : OptionalDouble.empty(),
        dare ? OptionalLong.of(seed) : OptionalLong.empty(),
        scoped ? scope : Scope.GLOBAL,
        method.aligned() ? Optional.of(concat) : Optional.empty());
  }

  /** A grid key's values, each read by {@code read}; {@code absent} alone when the key is not. */
  private <T> List<T> values(
      Map<String, Entry> keys, String key, Function<Scalar, T> read, T absent) {
    return keys.containsKey(key) ? values(keys.get(key), read) : List.of(absent);
  }

  /** A grid key's value, or each of its list of values, read by {@code read}. */
  private <T> List<T> values(Entry entry, Function<Scalar, T> read) {
    Node node = entry.value();
    String expected = "a value or a non-empty list of values";
    List<Node> items;
    if (node instanceof Sequence sequence) {
      if (sequence.items().isEmpty()) {
        throw fail(node, "the list is empty; give " + expected);
      }
      items = sequence.items();
    } else {
      items = List.of(node);
    }
    List<T> values = new ArrayList<>();
    for (Node item : items) {
      if (!(item instanceof Scalar scalar) || scalar.isNull()) {
        throw fail(item, describe(item) + "; give " + expected);
      }
      values.add(read.apply(scalar));
    }
    return values;
  }

  /** KnOTS' orientation, read as the merge reads {@code --concat}. */
  private Concat concat(Scalar value) {
    for (Concat concat : Concat.values()) {
      if (concat.name().toLowerCase(Locale.ROOT).equals(value.text().toLowerCase(Locale.ROOT))) {
        return concat;
      }
    }
    throw fail(value, value.text() + ": must be output or input");
  }

  // ---- output and the merge's other options

  /** A sweep's format: one of the merge's, or none. */
  private OutputFormat format(Node node) {
    String formats =
        Arrays.stream(OutputFormat.values())
            .map(OutputFormat::optionValue)
            .collect(Collectors.joining(", "));
    String value = text(node, "one of " + formats);
    return Arrays.stream(OutputFormat.values())
        .filter(f -> f.optionValue().equals(value))
        .findFirst()
        .orElseThrow(() -> fail(node, value + ": must be one of " + formats));
  }

  private CommonOptions common(Map<String, Entry> top, SweepFile.InputKind kind) {
    Optional<String> exclude =
        optional(top, EXCLUDE)
            .map(
                node -> {
                  String regex = text(node, "a regular expression");
                  try {
                    Pattern.compile(regex);
                  } catch (PatternSyntaxException e) {
                    throw fail(
                        node, regex + ": not a valid regular expression: " + e.getDescription());
                  }
                  return regex;
                });
    Optional<String> vectors =
        optional(top, VECTORS)
            .map(node -> scalarChecked(node, "merge or base", VectorPolicy::parse));
    OptionalInt loraRank = OptionalInt.empty();
    if (top.containsKey(LORA_RANK)) {
      Node node = top.get(LORA_RANK).value();
      long rank = whole(node, "a rank of at least 1");
      if (rank < 1 || rank > Integer.MAX_VALUE) {
        throw fail(node, rank + ": must be at least 1");
      }
      loraRank = OptionalInt.of((int) rank);
    }
    Optional<String> alignPath =
        optional(top, ALIGN_PATH)
            .map(
                node ->
                    scalarChecked(
                        node, "auto, factor, dense or distributed", AlignPath::parseOption));
    Optional<String> taskMemory =
        optional(top, TASK_MEMORY)
            .map(node -> scalarChecked(node, "a size", size -> PathRequest.of(null, size, null)));
    Optional<String> driverMemory =
        optional(top, DRIVER_MEMORY_BUDGET)
            .map(node -> scalarChecked(node, "a size", size -> PathRequest.of(null, null, size)));
    boolean skipUnsupported = optional(top, SKIP_UNSUPPORTED).map(this::bool).orElse(false);

    if (kind == SweepFile.InputKind.ADAPTERS) {
      for (String key : List.of(EXCLUDE, VECTORS, LORA_RANK)) {
        if (top.containsKey(key)) {
          throw fail(
              top.get(key),
              "applies only to full fine-tuned checkpoints (finetuned:); leave it out with"
                  + " adapters:");
        }
      }
    } else if (skipUnsupported) {
      throw fail(
          top.get(SKIP_UNSUPPORTED),
          "applies only to LoRA adapters (adapters:); a full fine-tuned checkpoint has no adapter"
              + " tensors to leave out");
    }
    return new CommonOptions(
        exclude, vectors, loraRank, alignPath, taskMemory, driverMemory, skipUnsupported);
  }

  // ---- evaluate and select

  private Evaluation evaluation(Entry entry) {
    Mapping mapping = mapping(entry.value(), "command:, timeout:, parallelism:");
    Map<String, Entry> keys = keys(mapping, List.of(COMMAND, TIMEOUT, PARALLELISM), EVALUATE);
    String example =
        "[python3, scripts/evaluate_merge.py, --adapter, \"{output}\", --json]; it runs without a"
            + " shell";
    Entry command = keys.get(COMMAND);
    if (command == null) {
      throw fail(
          entry.line(),
          EVALUATE + "." + COMMAND,
          "missing; give the evaluator's arguments as a list, such as " + example);
    }
    if (!(command.value() instanceof Sequence arguments) || arguments.items().isEmpty()) {
      throw fail(
          command,
          (command.value() instanceof Sequence ? "the list is empty" : describe(command.value()))
              + "; give the evaluator's arguments as a list, such as "
              + example);
    }
    List<String> words = arguments.items().stream().map(a -> text(a, "one argument")).toList();
    long timeout = DEFAULT_TIMEOUT_SECONDS;
    if (keys.containsKey(TIMEOUT)) {
      Node node = keys.get(TIMEOUT).value();
      timeout = whole(node, "a whole number of seconds");
      if (timeout <= 0) {
        throw fail(node, timeout + ": must be more than 0 seconds");
      }
    }
    int parallelism = 1;
    if (keys.containsKey(PARALLELISM)) {
      Node node = keys.get(PARALLELISM).value();
      long points = whole(node, "a whole number of points");
      if (points < 1 || points > Integer.MAX_VALUE) {
        throw fail(node, points + ": must be at least 1 (points evaluated at once)");
      }
      parallelism = (int) points;
    }
    return new Evaluation(words, timeout, parallelism);
  }

  private Selection selection(Entry entry, List<String> pool, boolean evaluated) {
    Mapping mapping = mapping(entry.value(), "metric:, mode:");
    Map<String, Entry> keys = keys(mapping, List.of(METRIC, MODE), SELECT);
    Entry metricEntry = keys.get(METRIC);
    String columns = "a numeric column of the results table, such as eval.avg_norm or merged_norm";
    if (metricEntry == null) {
      throw fail(entry.line(), SELECT + "." + METRIC, "missing; give " + columns);
    }
    String metric = text(metricEntry.value(), columns);
    if (metric.isBlank()) {
      throw fail(metricEntry, "is empty; give " + columns);
    }
    if (metric.startsWith(ResultsTable.EVAL) && !evaluated) {
      throw fail(
          metricEntry,
          metric
              + ": eval.* columns come from the evaluator, and the file has no evaluate:; add"
              + " evaluate:, or select on merged_norm or retention.<name>");
    }
    if (metric.startsWith(ResultsTable.RETENTION)
        && !pool.contains(metric.substring(ResultsTable.RETENTION.length()))) {
      throw fail(
          metricEntry,
          metric
              + ": the pool has no input of that name; its names are "
              + String.join(", ", pool));
    }
    boolean maximize = true;
    if (keys.containsKey(MODE)) {
      Node node = keys.get(MODE).value();
      String mode = text(node, "max or min");
      if (!mode.equals("max") && !mode.equals("min")) {
        throw fail(node, mode + ": must be max or min");
      }
      maximize = mode.equals("max");
    }
    return new Selection(metric, maximize);
  }

  // ---- reading the tree

  /** {@code mapping}'s entries, refusing a key not in {@code known}. */
  private Map<String, Entry> keys(Mapping mapping, List<String> known, String owner) {
    for (Entry entry : mapping.entries().values()) {
      if (!known.contains(entry.key())) {
        throw fail(
            entry,
            "unknown key"
                + hint(entry.key(), known)
                + "; the keys of "
                + owner
                + " are "
                + String.join(", ", known));
      }
    }
    return mapping.entries();
  }

  /** Where a key that is known elsewhere belongs. */
  private static String hint(String key, List<String> known) {
    if (known.equals(TOP_KEYS) && GRID_KEYS.contains(key)) {
      return " here: " + key + " is swept, so it goes under grid:";
    }
    if (known.equals(GRID_KEYS) && TOP_KEYS.contains(key)) {
      return " in grid: "
          + key
          + " is not swept; give it at the top level, where it applies to"
          + " every point";
    }
    return "";
  }

  private static Optional<Node> optional(Map<String, Entry> keys, String key) {
    return Optional.ofNullable(keys.get(key)).map(Entry::value);
  }

  /** A mapping; an empty value ({@code key:}) reads as an empty one. */
  private Mapping mapping(Node node, String expected) {
    if (node instanceof Mapping mapping) {
      return mapping;
    }
    if (node instanceof Scalar scalar && scalar.isNull()) {
      return new Mapping(node.path(), node.line(), Map.of());
    }
    throw fail(node, describe(node) + "; give a mapping: " + expected);
  }

  /** A single value's text. */
  private String text(Node node, String expected) {
    if (node instanceof Scalar scalar && !scalar.isNull()) {
      return scalar.text();
    }
    throw fail(node, describe(node) + "; give " + expected);
  }

  /** A location, as written: the runner opens it. */
  private String location(Node node, String what) {
    String location = text(node, what);
    if (location.isBlank()) {
      throw fail(node, "is empty; give " + what);
    }
    return location;
  }

  private BigDecimal number(Node node, String expected) {
    String text = text(node, expected);
    try {
      return new BigDecimal(text.strip());
    } catch (NumberFormatException e) {
      throw fail(node, text + " is not a number; give " + expected);
    }
  }

  private long whole(Node node, String expected) {
    BigDecimal number = number(node, expected);
    try {
      return number.longValueExact();
    } catch (ArithmeticException e) {
      throw fail(node, ((Scalar) node).text() + " is not a whole number; give " + expected);
    }
  }

  private boolean bool(Node node) {
    if (node instanceof Scalar scalar
        && (scalar.token() == JsonToken.VALUE_TRUE || scalar.token() == JsonToken.VALUE_FALSE)) {
      return scalar.token() == JsonToken.VALUE_TRUE;
    }
    throw fail(
        node,
        node instanceof Scalar scalar && !scalar.isNull()
            ? scalar.text() + ": must be true or false"
            : describe(node) + "; give true or false");
  }

  /** {@code number} as a double, once {@code check} (a merge's validator) has accepted it. */
  private double checked(Scalar node, BigDecimal number, Function<Double, ?> check) {
    double value = number.doubleValue();
    valid(node, () -> check.apply(value));
    return value;
  }

  /** A single value's text, once {@code check} (a merge's validator) has accepted it. */
  private String scalarChecked(Node node, String expected, Function<String, ?> check) {
    String value = text(node, expected);
    valid((Scalar) node, () -> check.apply(value));
    return value;
  }

  /** What {@code validation} returns; its refusal of a merge option is retold for the file. */
  private <T> T valid(Scalar node, Supplier<T> validation) {
    try {
      return validation.get();
    } catch (InvalidOptionException e) {
      throw fail(node, node.text() + ": " + e.rule());
    }
  }

  /** What a value that is not the expected one is, for messages. */
  private static String describe(Node node) {
    if (node instanceof Sequence) {
      return "is a list";
    }
    if (node instanceof Mapping) {
      return "is a mapping";
    }
    Scalar scalar = (Scalar) node;
    return scalar.isNull() ? "has no value" : scalar.text() + " is a single value";
  }

  // ---- the YAML

  /** The file's one document, as a tree; it must be a mapping. */
  private Mapping document(String text) {
    try (JsonParser parser = YAML.createParser(text)) {
      if (parser.nextToken() == null) {
        throw fail(
            1,
            "",
            "the file is empty; a sweep file gives at least adapters: (or finetuned:) and grid:");
      }
      Node root = node(parser, "");
      if (parser.nextToken() != null) {
        throw fail(
            line(parser),
            "",
            "a second YAML document begins (after ---); a sweep file is one document");
      }
      if (!(root instanceof Mapping mapping)) {
        throw fail(
            root.line(),
            "",
            "the file holds "
                + (root instanceof Sequence ? "a list" : "a single value")
                + "; a sweep file is a mapping of keys such as adapters:, grid: and output:");
      }
      return mapping;
    } catch (JsonProcessingException e) {
      throw notYaml(e);
    } catch (IOException e) {
      throw new IllegalStateException("Reading text in memory cannot fail", e);
    }
  }

  private Node node(JsonParser parser, String path) throws IOException {
    int line = line(parser);
    if (parser instanceof YAMLParser yaml && yaml.isCurrentAlias()) {
      throw fail(
          line,
          path,
          "*"
              + parser.getText()
              + " refers to an anchor, which sweep files do not use; write the value out");
    }
    JsonToken token = parser.currentToken();
    if (token == JsonToken.START_OBJECT) {
      Map<String, Entry> entries = new LinkedHashMap<>();
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String key = parser.currentName();
        int keyLine = line(parser);
        String keyPath = path.isEmpty() ? key : path + "." + key;
        Entry earlier = entries.get(key);
        if (earlier != null) {
          throw fail(
              keyLine,
              keyPath,
              "given twice (lines " + earlier.line() + " and " + keyLine + "); keep one");
        }
        parser.nextToken();
        entries.put(key, new Entry(key, keyLine, node(parser, keyPath)));
      }
      return new Mapping(path, line, entries);
    }
    if (token == JsonToken.START_ARRAY) {
      List<Node> items = new ArrayList<>();
      while (parser.nextToken() != JsonToken.END_ARRAY) {
        items.add(node(parser, path + "[" + items.size() + "]"));
      }
      return new Sequence(path, line, items);
    }
    return new Scalar(path, line, parser.getText(), token);
  }

  private static int line(JsonParser parser) {
    return parser.currentTokenLocation().getLineNr();
  }

  /** The YAML parser's own words for what it could not read, at the line it stopped. */
  private SweepFileException notYaml(JsonProcessingException e) {
    int line = e.getLocation() == null ? 1 : e.getLocation().getLineNr();
    String problem = e.getOriginalMessage().lines().findFirst().orElse("");
    if (e.getCause() instanceof MarkedYAMLException marked && marked.getProblem() != null) {
      problem = marked.getProblem();
      if (marked.getProblemMark() != null) {
        line = marked.getProblemMark().getLine() + 1;
      }
      if (marked.getContext() != null && marked.getContextMark() != null) {
        problem +=
            " ("
                + marked.getContext()
                + " that begins on line "
                + (marked.getContextMark().getLine() + 1)
                + ")";
      }
    }
    return fail(
        line,
        "",
        "not valid YAML: "
            + problem.strip()
            + "; check the indentation, quotes and brackets on this line and the one before");
  }

  // ---- refusals

  private SweepFileException fail(int line, String key, String problem) {
    return new SweepFileException(location, line, key, problem);
  }

  private SweepFileException fail(Node node, String problem) {
    return fail(node.line(), node.path(), problem);
  }

  /** A refusal of the key itself, at the key's line. */
  private SweepFileException fail(Entry entry, String problem) {
    return fail(entry.line(), entry.path(), problem);
  }
}
