package dev.knots.sweep;

import java.util.List;

/**
 * The sweep file's {@code evaluate:}: a command run on every committed point.
 *
 * @param command the argument list, with {@code {output}}, {@code {combination}}, {@code {point}}
 *     and {@code {adapters}} placeholders
 * @param timeoutSeconds how long one evaluation may run
 * @param parallelism how many points are evaluated at once
 */
public record Evaluation(List<String> command, long timeoutSeconds, int parallelism) {

  public Evaluation {
    command = List.copyOf(command);
  }
}
