package dev.knots.cli;

import dev.knots.io.Locations;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.plugins.Plugin;
import org.apache.logging.log4j.core.pattern.ConverterKeys;
import org.apache.logging.log4j.core.pattern.LogEventPatternConverter;
import org.apache.logging.log4j.core.pattern.PatternConverter;

/**
 * {@code %printableEx} in a log4j2 layout: the event's stack trace as Java prints it, one line per
 * frame, but with the control characters of each exception's message escaped ({@link
 * Locations#printable}), so that a message that quotes a file's tensor name cannot add lines of its
 * own. Nothing when the event has no exception.
 */
@Plugin(name = "PrintableThrowableConverter", category = PatternConverter.CATEGORY)
@ConverterKeys({"printableEx"})
public final class PrintableThrowableConverter extends LogEventPatternConverter {

  private PrintableThrowableConverter() {
    super("printableEx", "throwable");
  }

  /** log4j's factory; the converter has no options. */
  public static PrintableThrowableConverter newInstance(Configuration config, String[] options) {
    return new PrintableThrowableConverter();
  }

  @Override
  public void format(LogEvent event, StringBuilder out) {
    Throwable thrown = event.getThrown();
    if (thrown != null) {
      StringWriter trace = new StringWriter();
      thrown.printStackTrace(new EscapingLines(trace));
      out.append(trace);
    }
  }

  @Override
  public boolean handlesThrowable() {
    return true;
  }

  /**
   * Throwable.printStackTrace writes each line of the trace with one println(Object): the line's
   * leading tabs (the indentation of frames and suppressed exceptions) are kept, the rest escaped.
   */
  private static final class EscapingLines extends PrintWriter {
    EscapingLines(StringWriter out) {
      super(out);
    }

    @Override
    public void println(Object line) {
      String text = String.valueOf(line);
      int indent = 0;
      while (indent < text.length() && text.charAt(indent) == '\t') {
        indent++;
      }
      super.println(text.substring(0, indent) + Locations.printable(text.substring(indent)));
    }
  }
}
