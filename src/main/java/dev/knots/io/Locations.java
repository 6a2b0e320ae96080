package dev.knots.io;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Text operations on locations, which are plain paths ({@code /data/x}, {@code relative/x}) or URIs
 * ({@code file:///data/x}, {@code hdfs://nn:8020/x}, {@code s3a://bucket/x}). None of them does
 * I/O.
 */
public final class Locations {

  /** A scheme of two or more characters, so a Windows drive letter is not taken for one. */
  private static final Pattern SCHEME = Pattern.compile("^([a-zA-Z][a-zA-Z0-9+.-]+):");

  /**
   * {@code scheme://user-info@} anywhere in a text. The user-info is either free of '/' and ':', or
   * {@code KEY:SECRET} where the secret may contain '/' (AWS secret keys do), up to the first '@'.
   * This errs towards removing too much: a URI with a port and an '@' later in its path ({@code
   * hdfs://nn:8020/a@b}) loses its host too.
   */
  private static final Pattern USER_INFO =
      Pattern.compile("([a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/@\\s:]*:[^@\\s]*|[^/@\\s]*)@");

  private Locations() {}

  /**
   * The text with the user-info removed from every URI in it, so that {@code
   * s3a://KEY:SECRET@bucket/path} reads {@code s3a://bucket/path}. Works on a bare location as well
   * as on a whole message that mentions several; {@code null} stays {@code null}. Every message
   * that shows a location passes through here, so credentials put into a URI never reach logs or
   * the console.
   */
  public static String redact(String text) {
    if (text == null || text.indexOf('@') < 0) {
      return text;
    }
    return USER_INFO.matcher(text).replaceAll("$1");
  }

  /**
   * The text with every character that could steer a terminal written as an escape: {@code \n},
   * {@code \r} and {@code \t}, and the other control characters, the line and paragraph separators
   * and the bidirectional overrides (which reorder what is shown) as a backslash, {@code u} and
   * four hex digits: ESC becomes backslash-{@code u001b}. A tensor name, config value or path read
   * from a file can then neither start a line of its own (a forged {@code Error:}) nor colour or
   * rewrite the user's terminal. Backslashes are kept as they are, so that escaping twice changes
   * nothing. Every message shown on the terminal or written to a log passes through here; {@code
   * null} stays {@code null}.
   */
  public static String printable(String text) {
    if (text == null || text.codePoints().noneMatch(Locations::steersTerminal)) {
      return text;
    }
    StringBuilder out = new StringBuilder(text.length() + 16);
    text.codePoints()
        .forEach(
            c -> {
              if (!steersTerminal(c)) {
                out.appendCodePoint(c);
              } else if (c == '\n') {
                out.append("\\n");
              } else if (c == '\r') {
                out.append("\\r");
              } else if (c == '\t') {
                out.append("\\t");
              } else {
                out.append(String.format(Locale.ROOT, "\\u%04x", c));
              }
            });
    return out.toString();
  }

  private static boolean steersTerminal(int c) {
    return Character.isISOControl(c)
        || c == '\u2028'
        || c == '\u2029'
        || (c >= '\u202a' && c <= '\u202e')
        || (c >= '\u2066' && c <= '\u2069');
  }

  /**
   * The scheme of a URI location in lower case ({@code "s3a"}, {@code "file"}), or empty for a
   * plain path.
   */
  public static Optional<String> scheme(String location) {
    Matcher m = SCHEME.matcher(Objects.requireNonNull(location, "location"));
    return m.find() ? Optional.of(m.group(1).toLowerCase(Locale.ROOT)) : Optional.empty();
  }

  /** Whether the location is on the local file system: a plain path or a {@code file:} URI. */
  public static boolean isLocal(String location) {
    return scheme(location).map("file"::equals).orElse(true);
  }

  /**
   * {@code child} (a name or relative path) inside {@code directory}, joined with exactly one '/':
   * trailing slashes of the directory and leading slashes of the child are dropped, except that a
   * root ({@code /}, {@code file:///}) keeps its own.
   */
  public static String join(String directory, String child) {
    Objects.requireNonNull(directory, "directory");
    Objects.requireNonNull(child, "child");
    int start = 0;
    while (start < child.length() && child.charAt(start) == '/') {
      start++;
    }
    String name = child.substring(start);
    int end = directory.length();
    while (end > 0 && directory.charAt(end - 1) == '/') {
      end--;
    }
    String base = directory.substring(0, end);
    boolean root = end < directory.length() && (base.isEmpty() || base.endsWith(":"));
    return root ? directory + name : base + "/" + name;
  }
}
