package dev.knots.io.hadoop;

import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import org.apache.hadoop.conf.Configuration;

/**
 * A Hadoop {@link Configuration} that survives Java serialization, written with {@link
 * Configuration#write} (every property, defaults included, so the receiving JVM sees exactly the
 * sender's settings whatever its own {@code core-site.xml} says) and read back with {@link
 * Configuration#readFields}. Expect tens of kilobytes: broadcast it in Spark rather than capturing
 * it in every task.
 */
final class SerializableConfiguration implements Serializable {

  private static final long serialVersionUID = 1L;

  private transient Configuration conf;

  SerializableConfiguration(Configuration conf) {
    this.conf = conf;
  }

  Configuration get() {
    return conf;
  }

  private void writeObject(ObjectOutputStream out) throws IOException {
    out.defaultWriteObject();
    conf.write(out);
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    conf = new Configuration(false);
    conf.readFields(in);
  }
}
