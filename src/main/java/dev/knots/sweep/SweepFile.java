package dev.knots.sweep;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;

/**
 * A sweep file read and validated (docs/sweeps.md): the pool of inputs, every combination and every
 * point of the grid expanded.
 *
 * @param location the file as given, for messages
 * @param kind whether the pool holds LoRA adapters or full fine-tuned checkpoints
 * @param pool name to location, in file order
 * @param combinations expanded, in file order, each once
 * @param points the grid expanded, keys that do not apply to a method dropped, identical points
 *     merged, in grid order
 * @param format adapter, model, both or none, as written
 */
public record SweepFile(
    String location,
    InputKind kind,
    LinkedHashMap<String, String> pool,
    Optional<String> base,
    List<Combination> combinations,
    List<Point> points,
    Optional<String> output,
    Optional<String> format,
    Optional<Evaluation> evaluate,
    Optional<Selection> select,
    CommonOptions common) {

  /** What the pool holds: {@code adapters:} or {@code finetuned:}. */
  public enum InputKind {
    ADAPTERS,
    FINETUNED
  }

  public SweepFile {
    pool = new LinkedHashMap<>(pool);
    combinations = List.copyOf(combinations);
    points = List.copyOf(points);
  }

  @Override
  public LinkedHashMap<String, String> pool() {
    return new LinkedHashMap<>(pool);
  }

  /**
   * Reads and validates the YAML (or JSON) {@code text} of the file at {@code location}.
   *
   * @throws SweepFileException naming the file, the line and the key at fault
   */
  public static SweepFile parse(String location, String text) {
    return SweepFileParser.parse(location, text);
  }
}
