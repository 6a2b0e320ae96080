package dev.knots.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.knots.Fixtures;
import dev.knots.LocalSpark;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.SparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every row of the catalogue of refused inputs, docs/refused-inputs.md, through {@link
 * Main#run}: the row's command line must end with its exit code, print its message on stderr, and
 * leave every file as it was (nothing at {@code --output}, no staging directory, no input changed).
 * A new row needs only a line in the catalogue, and for a new kind of broken input a builder in
 * {@link BadInputs}.
 *
 * <p>Placeholders, in the command line and in the message:
 *
 * <ul>
 *   <li>{@code $A}: a copy of examples/digits/adapters, so {@code $A/rot90} is a sound adapter;
 *   <li>{@code $BASE}: a copy of examples/digits/base_model, the adapters' base model;
 *   <li>{@code $FT}: a full fine-tuned checkpoint of {@code $BASE}: the base, one weight changed;
 *   <li>{@code $BAD/<name>}: the crafted input {@code <name>} of {@link BadInputs};
 *   <li>{@code $OUT}: a location where nothing exists, fresh for each row;
 *   <li>{@code $FILE}: an existing regular file;
 *   <li>{@code $TMP}: the directory holding all of these, e.g. {@code $TMP/missing} does not exist.
 * </ul>
 *
 * The command line is split into arguments as a shell would, with single and double quotes and
 * nothing else. {@code SECRET} stands for a credential in a URI: no row may print it. Spark is
 * started only when a row needs it (a refusal from inside the job), once, as local[2].
 */
class RefusedInputsTest {
  private static final Path CATALOGUE = Path.of("docs/refused-inputs.md");

  /** The catalogue keeps at least this many rows; raise it as rows are added. */
  private static final int MIN_ROWS = 169;

  private static final List<String> HEADER = List.of("#", "input", "message", "exit");

  private static final Pattern PLACEHOLDER =
      Pattern.compile("\\$(TMP|OUT|FILE|BASE|BAD|FT|A)(?![A-Za-z0-9_])");

  private static final Pattern UNKNOWN_PLACEHOLDER = Pattern.compile("\\$[A-Z]+");

  private static final Pattern BAD_INPUT = Pattern.compile("\\$BAD/([^\\s,/'\"]+)");

  /** Where a credential goes in a URI of the catalogue; no message may show it. */
  private static final String SECRET = "SECRET";

  @TempDir static Path tmp;

  private static SparkContext spark;

  /** Every file and directory under {@link #tmp} once the inputs are written. */
  private static Map<String, String> inputs;

  /** One row of a table: its number, command line, message excerpt and exit code. */
  record Row(String id, String input, String message, int exit, int line) {
    @Override
    public String toString() {
      return "#" + id + " " + input;
    }
  }

  @BeforeAll
  static void writeInputs() throws IOException {
    copyTree(Path.of("examples/digits/adapters"), tmp.resolve("adapters"));
    copyTree(Path.of("examples/digits/base_model"), tmp.resolve("base"));
    copyTree(Path.of("examples/digits/base_model"), tmp.resolve("finetuned"));
    Fixtures.setFloat32(
        tmp.resolve("finetuned/model.safetensors"), "layers.0.self_attn.q_proj.weight", 0, 0.5);
    Files.writeString(tmp.resolve("file.txt"), "a regular file\n");
    BadInputs.writeAll(tmp.resolve("bad"));
    inputs = snapshot();
  }

  @AfterAll
  static void stopSpark() {
    if (spark != null) {
      spark.stop();
    }
  }

  private static synchronized SparkContext spark() {
    if (spark == null) {
      spark = LocalSpark.start("local[2]", "RefusedInputsTest");
    }
    return spark;
  }

  @Test
  void rowsAreNumberedOnceAndEnough() {
    List<Row> rows = rows();
    Set<String> seen = new HashSet<>();
    for (Row row : rows) {
      assertTrue(seen.add(row.id()), "# " + row.id() + " appears twice (line " + row.line() + ")");
    }
    assertTrue(rows.size() >= MIN_ROWS, rows.size() + " rows, fewer than " + MIN_ROWS);
  }

  @Test
  void everyCraftedInputIsUsedAndEveryOneUsedIsCrafted() {
    Set<String> used = new TreeSet<>();
    for (Row row : rows()) {
      Matcher m = BAD_INPUT.matcher(row.input());
      while (m.find()) {
        used.add(m.group(1));
      }
    }
    assertEquals(new TreeSet<>(BadInputs.ALL.keySet()), used, "crafted inputs vs rows");
  }

  @TestFactory
  Stream<DynamicTest> everyRowIsRefusedAsTheCatalogueSays() {
    return rows().stream().map(row -> DynamicTest.dynamicTest(row.toString(), () -> check(row)));
  }

  private static void check(Row row) throws IOException {
    Map<String, String> values =
        Map.of(
            "TMP", tmp.toString(),
            "OUT", tmp.resolve("out-" + row.id()).toString(),
            "FILE", tmp.resolve("file.txt").toString(),
            "BASE", tmp.resolve("base").toString(),
            "BAD", tmp.resolve("bad").toString(),
            "FT", tmp.resolve("finetuned").toString(),
            "A", tmp.resolve("adapters").toString());
    String[] args =
        words(row.input()).stream().map(w -> substitute(w, values)).toArray(String[]::new);
    String message = substitute(row.message(), values);
    MainRun run = MainRun.of(RefusedInputsTest::spark, args);
    int code = run.code();
    String stdout = run.out();
    String stderr = run.err();
    String seen = "\nstderr:\n" + stderr + "stdout:\n" + stdout;
    assertEquals(row.exit(), code, () -> "exit code of " + row + seen);
    assertTrue(
        stderr.contains(message), () -> "line " + row.line() + ": expected\n" + message + seen);
    assertFalse((stderr + stdout).contains(SECRET), () -> "a credential is shown" + seen);
    assertUnchanged(row);
  }

  /**
   * Nothing was created (no output, no staging directory), deleted or written to. What a row
   * created is removed after the failure, so that the rows after it are judged on their own.
   */
  private static void assertUnchanged(Row row) throws IOException {
    Map<String, String> now = snapshot();
    if (now.equals(inputs)) {
      return;
    }
    Set<String> changed = new TreeSet<>(now.keySet());
    changed.addAll(inputs.keySet());
    changed.removeIf(path -> String.valueOf(now.get(path)).equals(inputs.get(path)));
    for (String created : new TreeSet<>(changed).descendingSet()) {
      if (!inputs.containsKey(created)) {
        Files.delete(tmp.resolve(created));
      }
    }
    fail(row + " left files created, changed or deleted: " + changed);
  }

  /** Each path under {@link #tmp} with its size and modification time. */
  private static Map<String, String> snapshot() {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> paths = Files.walk(tmp)) {
      for (Path path : paths.toList()) {
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
        files.put(
            tmp.relativize(path).toString(),
            a.isDirectory() ? "directory" : a.size() + " bytes, " + a.lastModifiedTime());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return files;
  }

  private static String substitute(String text, Map<String, String> values) {
    String result =
        PLACEHOLDER.matcher(text).replaceAll(m -> Matcher.quoteReplacement(values.get(m.group(1))));
    Matcher unknown = UNKNOWN_PLACEHOLDER.matcher(result);
    if (unknown.find()) {
      throw new IllegalArgumentException("unknown placeholder " + unknown.group() + " in " + text);
    }
    return result;
  }

  /** The rows of the catalogue's tables: those headed # | input | message | exit. */
  static List<Row> rows() {
    List<String> lines;
    try {
      lines = Files.readAllLines(CATALOGUE, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Row> rows = new ArrayList<>();
    boolean inCatalogueTable = false;
    boolean inTable = false;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).trim();
      if (!line.startsWith("|")) {
        inTable = false;
        continue;
      }
      List<String> cells = cells(line);
      if (!inTable) {
        inTable = true;
        inCatalogueTable = cells.equals(HEADER);
        continue;
      }
      if (!inCatalogueTable || cells.get(0).matches(":?-+:?")) {
        continue;
      }
      if (cells.size() != HEADER.size()) {
        throw new IllegalStateException(
            CATALOGUE + " line " + (i + 1) + ": a row has the cells " + HEADER);
      }
      rows.add(
          new Row(
              cells.get(0),
              code(cells.get(1), i + 1),
              code(cells.get(2), i + 1),
              Integer.parseInt(cells.get(3)),
              i + 1));
    }
    return rows;
  }

  /** The cells of a table row, trimmed; {@code \|} stands for a '|' inside a cell. */
  private static List<String> cells(String line) {
    List<String> cells = new ArrayList<>();
    StringBuilder cell = new StringBuilder();
    for (int i = 1; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\\' && i + 1 < line.length() && line.charAt(i + 1) == '|') {
        cell.append('|');
        i++;
      } else if (c == '|') {
        cells.add(cell.toString().trim());
        cell.setLength(0);
      } else {
        cell.append(c);
      }
    }
    return cells;
  }

  /** The text of a cell that is one code span, {@code `text`} or {@code `` text ` ``}. */
  private static String code(String cell, int line) {
    int ticks = 0;
    while (ticks < cell.length() && cell.charAt(ticks) == '`') {
      ticks++;
    }
    String fence = "`".repeat(Math.max(ticks, 1));
    if (ticks == 0 || cell.length() < 2 * ticks || !cell.endsWith(fence)) {
      throw new IllegalStateException(
          CATALOGUE + " line " + line + ": input and message are code spans: " + cell);
    }
    String text = cell.substring(ticks, cell.length() - ticks);
    return text.length() > 1 && text.startsWith(" ") && text.endsWith(" ")
        ? text.substring(1, text.length() - 1)
        : text;
  }

  /**
   * The words of a command line as a shell splits it: at unquoted blanks, with '...' taken
   * literally and "..." with \" and \\ escapes; no other shell feature.
   */
  static List<String> words(String line) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean inWord = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == ' ' || c == '\t') {
        if (inWord) {
          words.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else if (c == '\'') {
        int end = line.indexOf('\'', i + 1);
        if (end < 0) {
          throw new IllegalArgumentException("unclosed ' in " + line);
        }
        word.append(line, i + 1, end);
        i = end;
        inWord = true;
      } else if (c == '"') {
        i++;
        while (i < line.length() && line.charAt(i) != '"') {
          if (line.charAt(i) == '\\'
              && i + 1 < line.length()
              && "\"\\".indexOf(line.charAt(i + 1)) >= 0) {
            i++;
          }
          word.append(line.charAt(i));
          i++;
        }
        if (i >= line.length()) {
          throw new IllegalArgumentException("unclosed \" in " + line);
        }
        inWord = true;
      } else {
        word.append(c);
        inWord = true;
      }
    }
    if (inWord) {
      words.add(word.toString());
    }
    return words;
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> paths = Files.walk(from)) {
      for (Path path : paths.toList()) {
        Files.copy(path, to.resolve(from.relativize(path).toString()));
      }
    }
  }
}
