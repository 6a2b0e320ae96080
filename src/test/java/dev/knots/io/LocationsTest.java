package dev.knots.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class LocationsTest {

  @Test
  void redactRemovesUserInfo() {
    assertEquals("s3a://bucket/path/x", Locations.redact("s3a://KEY:SECRET@bucket/path/x"));
    assertEquals(
        "s3a://bucket/x",
        Locations.redact("s3a://AKIAEXAMPLE:wJalr/XUtnFEMI/K7MDENG+bPxRfiCY@bucket/x"));
    assertEquals("hdfs://nn:8020/x", Locations.redact("hdfs://alice@nn:8020/x"));
    assertEquals("ftp://host/dir", Locations.redact("ftp://user:p%40ss@host/dir"));
    assertEquals("s3a://bucket", Locations.redact("s3a://KEY:SECRET@bucket"));
  }

  @Test
  void redactWorksInsideMessagesAndLeavesOtherTextAlone() {
    assertEquals(
        "copy s3a://a/x to gs://b/y failed",
        Locations.redact("copy s3a://K:S@a/x to gs://u:p@b/y failed"));
    assertEquals("s3a://bucket/dir@v1/file", Locations.redact("s3a://bucket/dir@v1/file"));
    assertEquals("/data/me@home/x", Locations.redact("/data/me@home/x"));
    assertEquals("mail me@example.com", Locations.redact("mail me@example.com"));
    assertEquals("s3a://bucket/x", Locations.redact("s3a://bucket/x"));
    assertNull(Locations.redact(null));
  }

  @Test
  void wrappedMessagesAreRedacted() {
    IOException e =
        Storage.wrap(
            "read",
            "s3a://KEY:SECRET@bucket/x",
            new IOException("status 403 for s3a://KEY:SECRET@bucket/x"));
    assertEquals("Cannot read s3a://bucket/x: status 403 for s3a://bucket/x", e.getMessage());
    assertFalse(
        Storage.renameTargetExists("s3a://K:SECRET@b/a", "s3a://K:SECRET@b/c")
            .getMessage()
            .contains("SECRET"));
  }

  @Test
  void schemes() {
    assertEquals(Optional.of("s3a"), Locations.scheme("s3a://bucket/x"));
    assertEquals(Optional.of("file"), Locations.scheme("FILE:///tmp/x"));
    assertEquals(Optional.of("hdfs"), Locations.scheme("hdfs:/x"));
    assertEquals(Optional.empty(), Locations.scheme("/tmp/x"));
    assertEquals(Optional.empty(), Locations.scheme("relative/x"));
    assertEquals(Optional.empty(), Locations.scheme("C:/data"));
    assertTrue(Locations.isLocal("/tmp/x"));
    assertTrue(Locations.isLocal("file:/tmp/x"));
    assertFalse(Locations.isLocal("hdfs://nn/x"));
  }

  @Test
  void joinUsesExactlyOneSlash() {
    assertEquals("s3a://bucket/a", Locations.join("s3a://bucket", "a"));
    assertEquals("s3a://bucket/a", Locations.join("s3a://bucket/", "a"));
    assertEquals("s3a://bucket/a/b", Locations.join("s3a://bucket/a//", "/b"));
    assertEquals("/a", Locations.join("/", "a"));
    assertEquals("/a", Locations.join("/", "/a"));
    assertEquals("file:///a", Locations.join("file:///", "a"));
    assertEquals("rel/a", Locations.join("rel", "a"));
  }

  @Test
  void printableEscapesWhatCouldSteerATerminal() {
    assertEquals(
        "tensor 'a\\u001b[31mred\\nError: forged\\r\\t'",
        Locations.printable("tensor 'a\u001b[31mred\nError: forged\r\t'"));
    assertEquals("\\u0000\\u007f\\u009b", Locations.printable("\u0000\u007f\u009b"));
    assertEquals("\\u2028\\u202e\\u2066", Locations.printable("\u2028\u202e\u2066"));
  }

  @Test
  void printableLeavesOtherTextAloneAndEscapesOnce() {
    String plain = "/data/modèles/日本語/x 1.safetensors \\n tensor 'q_proj' \uD83D\uDE00";
    assertEquals(plain, Locations.printable(plain));
    String escaped = Locations.printable("a\nb\u001b");
    assertEquals(escaped, Locations.printable(escaped));
    assertNull(Locations.printable(null));
  }
}
