package dev.knots.cli;

import dev.knots.io.Locations;
import java.util.List;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.plugins.Plugin;
import org.apache.logging.log4j.core.layout.PatternLayout;
import org.apache.logging.log4j.core.pattern.ConverterKeys;
import org.apache.logging.log4j.core.pattern.LogEventPatternConverter;
import org.apache.logging.log4j.core.pattern.PatternConverter;
import org.apache.logging.log4j.core.pattern.PatternFormatter;

/**
 * {@code %printable{pattern}} in a log4j2 layout: the pattern's text with its control characters
 * escaped ({@link Locations#printable}), so that a tensor name or path from a file that a log line
 * quotes cannot forge log lines or steer the terminal. conf/log4j2.properties wraps every message
 * in it; {@link PrintableThrowableConverter} does the same for stack traces.
 */
@Plugin(name = "PrintableConverter", category = PatternConverter.CATEGORY)
@ConverterKeys({"printable"})
public final class PrintableConverter extends LogEventPatternConverter {
  private final List<PatternFormatter> formatters;

  private PrintableConverter(List<PatternFormatter> formatters) {
    super("printable", "printable");
    this.formatters = formatters;
  }

  /** log4j's factory: {@code options} holds the one nested pattern. */
  public static PrintableConverter newInstance(Configuration config, String[] options) {
    if (options == null || options.length != 1) {
      throw new IllegalArgumentException("%printable takes one pattern: %printable{%m}");
    }
    return new PrintableConverter(PatternLayout.createPatternParser(config).parse(options[0]));
  }

  @Override
  public void format(LogEvent event, StringBuilder out) {
    int start = out.length();
    formatters.forEach(f -> f.format(event, out));
    String escaped = Locations.printable(out.substring(start));
    out.setLength(start);
    out.append(escaped);
  }

  @Override
  public boolean handlesThrowable() {
    return formatters.stream().anyMatch(PatternFormatter::handlesThrowable);
  }
}
