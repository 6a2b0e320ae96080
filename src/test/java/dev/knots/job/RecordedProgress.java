package dev.knots.job;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What a runner told, merge by merge: each output's report, or its failure. */
public final class RecordedProgress implements MergeRunner.Progress {
  public final Map<String, MergeReport> reports = new LinkedHashMap<>();
  public final Map<String, IOException> failures = new LinkedHashMap<>();
  public final List<String> order = new ArrayList<>();

  @Override
  public void done(PlannedMerge merge, MergeReport report) {
    order.add(merge.request().output());
    reports.put(merge.request().output(), report);
  }

  @Override
  public void failed(PlannedMerge merge, IOException failure) {
    order.add(merge.request().output());
    failures.put(merge.request().output(), failure);
  }
}
