package dev.knots.io.hadoop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.knots.io.Redacted;
import java.io.EOFException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/**
 * Hadoop messages that quote a path with credentials are redacted, in the message and in the cause.
 * S3A refuses such URIs before any message quotes them, so this uses made-up exceptions.
 */
class RedactedTest {

  private static final String URI = "s3a://AKIAEXAMPLE:SECRET@bucket/x";

  private static final HadoopFileStore STORE = new HadoopFileStore(new Configuration());

  private static String trace(Throwable e) {
    StringWriter out = new StringWriter();
    e.printStackTrace(new PrintWriter(out));
    return out.toString();
  }

  @Test
  void wrappedHadoopExceptionsShowNoCredentials() {
    IOException deep =
        new IOException(
            "No such file or directory: " + URI, new IOException("GET " + URI + " failed"));
    IOException wrapped = STORE.wrap("read", URI, deep);
    assertEquals(
        "Cannot read s3a://bucket/x: No such file or directory: s3a://bucket/x",
        wrapped.getMessage());
    assertFalse(trace(wrapped).contains("SECRET"), trace(wrapped));
    assertFalse(trace(wrapped).contains("AKIAEXAMPLE"), trace(wrapped));

    IOException notFound = STORE.wrap("open", URI, new FileNotFoundException(URI));
    assertInstanceOf(FileNotFoundException.class, notFound);
    assertEquals("Cannot open s3a://bucket/x: no such file or directory", notFound.getMessage());
    assertFalse(trace(notFound).contains("SECRET"), trace(notFound));
  }

  @Test
  void causesKeepTheirKindAndLoseTheirChain() {
    IOException eof = Redacted.cause(new EOFException("at 10 of " + URI));
    assertInstanceOf(EOFException.class, eof);
    assertEquals("java.io.EOFException: at 10 of s3a://bucket/x", eof.getMessage());
    assertNull(eof.getCause());

    IOException clean = new IOException("no credentials here: s3a://bucket/x");
    assertSame(clean, Redacted.cause(clean));
    assertNull(Redacted.cause(new IllegalArgumentException("Wrong FS: " + URI)));
  }
}
