package dev.knots.sweep;

import dev.knots.io.FileStore;
import dev.knots.io.Locations;
import dev.knots.job.MergeRequest;
import dev.knots.plan.MergeInputs;
import dev.knots.plan.PathOptions;
import dev.knots.plan.Planner;
import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** What {@code sweep --dry-run} prints: every combination and point, each alignment's plan. */
public final class SweepDryRun {

  private SweepDryRun() {}

  /** Reads headers only, through {@code store}. */
  public static String describe(SweepPlan plan, FileStore store, PathOptions paths)
      throws IOException {
    StringBuilder text = new StringBuilder();
    SweepFile file = plan.file();
    text.append(
        String.format(
            Locale.ROOT,
            "Sweep into %s: %d combinations x %d points = %d merges, format %s.%n",
            Locations.redact(plan.output()),
            file.combinations().size(),
            file.points().size(),
            plan.points().size(),
            plan.format().optionValue()));
    text.append(
        "Combinations run one after another; each is aligned once per orientation (KnOTS with"
            + " concat output or input, or no alignment) and its aligned layers are released when"
            + " its last point of that orientation is written, so one alignment is held at a"
            + " time.\n");
    for (Combination combination : file.combinations()) {
      List<SweepPoint> points = plan.pointsOf(combination);
      text.append(
          String.format(
              Locale.ROOT,
              "%nCombination %s (%s):%n",
              combination.id(),
              String.join(", ", combination.names())));
      points.forEach(p -> text.append("  point ").append(p.point().id()).append('\n'));
      MergeRequest first = points.get(0).request();
      MergeInputs inputs = first.openInputs(store, plan.runOptions().unsupported());
      inputs
          .warnings()
          .forEach(
              w -> text.append("  warning: left out ").append(Locations.printable(w)).append('\n'));
      Set<String> described = new LinkedHashSet<>();
      for (SweepPoint point : points) {
        MergeRequest request = point.request();
        String orientation =
            request.method().aligned()
                ? "KnOTS, concat " + request.concat().name().toLowerCase(Locale.ROOT)
                : "no alignment";
        if (described.add(orientation)) {
          text.append("  Alignment (")
              .append(orientation)
              .append("), as ")
              .append(point.point().id())
              .append(" plans it:\n");
          Planner.plan(inputs, request.method(), request.concat(), paths)
              .describe()
              .lines()
              .forEach(line -> text.append("    ").append(line).append('\n'));
        }
      }
    }
    text.append("Dry run: nothing was read beyond headers and nothing was written.\n");
    return text.toString();
  }
}
