package dev.knots.io;

import java.util.ArrayList;
import java.util.List;

/**
 * A {@link FileStore} that delegates to another and records, in order, when files are created and
 * closed.
 */
public final class RecordingFileStore extends ForwardingFileStore {

  private final List<String> events = new ArrayList<>();

  public RecordingFileStore(FileStore delegate) {
    super(delegate);
  }

  /** "create NAME" and "close NAME" events, NAME being the last path segment. */
  public synchronized List<String> events() {
    return List.copyOf(events);
  }

  private synchronized void record(String event) {
    events.add(event);
  }

  private static String name(String location) {
    return location.substring(location.lastIndexOf('/') + 1);
  }

  @Override
  public OutputFile outputFile(String location) {
    return new HookedOutputFile(
        delegate().outputFile(location),
        () -> record("create " + name(location)),
        () -> record("close " + name(location)));
  }
}
