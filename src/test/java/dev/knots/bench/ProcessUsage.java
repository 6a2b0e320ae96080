package dev.knots.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code /usr/bin/time -v} reports of the merge process. CPU time is steadier than wall time
 * on a shared or small machine, where the wall clock also counts waiting for a core.
 *
 * @param peakRssBytes "Maximum resident set size", or null
 * @param userSeconds "User time", or null
 * @param systemSeconds "System time", or null
 */
record ProcessUsage(Long peakRssBytes, Double userSeconds, Double systemSeconds) {
  static final ProcessUsage NONE = new ProcessUsage(null, null, null);

  private static final Pattern MAX_RSS =
      Pattern.compile("Maximum resident set size \\(kbytes\\): (\\d+)");
  private static final Pattern USER = Pattern.compile("User time \\(seconds\\): ([\\d.]+)");
  private static final Pattern SYSTEM = Pattern.compile("System time \\(seconds\\): ([\\d.]+)");

  /** Reads a {@code /usr/bin/time -v} output file; {@link #NONE} when there is none. */
  static ProcessUsage read(Path timeFile) throws IOException {
    if (!Files.exists(timeFile)) {
      return NONE;
    }
    String text = Files.readString(timeFile);
    Matcher rss = MAX_RSS.matcher(text);
    return new ProcessUsage(
        rss.find() ? Long.parseLong(rss.group(1)) * 1024 : null,
        seconds(USER, text),
        seconds(SYSTEM, text));
  }

  /** User plus system time, or null when either is missing. */
  Double cpuSeconds() {
    return userSeconds == null || systemSeconds == null ? null : userSeconds + systemSeconds;
  }

  private static Double seconds(Pattern pattern, String text) {
    Matcher m = pattern.matcher(text);
    return m.find() ? Double.parseDouble(m.group(1)) : null;
  }
}
