package dev.knots.io.hadoop;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.apache.hadoop.conf.Configuration;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.auth.AuthenticationType;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.nio2blob.TransientNio2BlobStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.HeadObjectRequest;

/**
 * An in-process, in-memory S3 server (S3Proxy) on 127.0.0.1 with an ephemeral port and one bucket,
 * for tests. Start it once per test class and close it at the end:
 *
 * <pre>{@code
 * private static LocalS3 s3;
 * @BeforeAll static void start() throws Exception { s3 = LocalS3.start(); }
 * @AfterAll static void stop() throws Exception { s3.close(); }
 * ... new HadoopFileStore(s3.configuration()), s3.uri("models/base") ...
 * }</pre>
 *
 * <p>The server counts the calls it receives by storage operation ({@link #calls}), which is the
 * ground truth for tests that count requests: {@code blobMetadata} is a HEAD Object, {@code
 * getBlob} a GET Object. {@link #calls(String, String)} counts those about one object.
 *
 * <p>Every server gets a bucket of its own name, because Hadoop caches file systems by scheme and
 * bucket, not by configuration: a second server with the same bucket name would be reached through
 * the first one's cached client.
 */
public final class LocalS3 implements AutoCloseable {

  /** The access key the server accepts. */
  public static final String ACCESS_KEY = "test-access";

  /** The secret key the server accepts. */
  public static final String SECRET_KEY = "test-secret";

  private static final AtomicInteger BUCKETS = new AtomicInteger();

  private final BlobStore blobStore;
  private volatile S3Proxy proxy;
  private final Map<String, LongAdder> calls;
  private final String endpoint;
  private final String bucket;
  private final long startMillis;

  private LocalS3(
      BlobStore blobStore,
      S3Proxy proxy,
      Map<String, LongAdder> calls,
      String bucket,
      long startMillis) {
    this.blobStore = blobStore;
    this.proxy = proxy;
    this.calls = calls;
    this.endpoint = "http://127.0.0.1:" + proxy.getPort();
    this.bucket = bucket;
    this.startMillis = startMillis;
  }

  /** Starts a server and creates its bucket (about 1-5 s). */
  public static LocalS3 start() throws Exception {
    long t0 = System.nanoTime();
    Map<String, LongAdder> calls = new ConcurrentHashMap<>();
    BlobStore blobStore = counting(new TransientNio2BlobStore(), calls);
    S3Proxy proxy = serve(blobStore, 0);
    String endpoint = "http://127.0.0.1:" + proxy.getPort();
    String bucket = createBucket(endpoint, "test");
    return new LocalS3(blobStore, proxy, calls, bucket, (System.nanoTime() - t0) / 1_000_000);
  }

  private static S3Proxy serve(BlobStore blobStore, int port) throws Exception {
    S3Proxy proxy =
        S3Proxy.builder()
            .blobStore(blobStore)
            .endpoint(URI.create("http://127.0.0.1:" + port))
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
            .build();
    proxy.start();
    while (!"STARTED".equals(proxy.getState())) {
      if ("FAILED".equals(proxy.getState())) {
        throw new IllegalStateException("S3Proxy failed to start");
      }
      Thread.sleep(10);
    }
    return proxy;
  }

  /**
   * Stops serving, as an outage would: connections to the port are refused until {@link #resume()}.
   * The content is kept.
   */
  public void suspend() throws Exception {
    proxy.stop();
  }

  /** Serves the same content on the same port again after {@link #suspend()}. */
  public void resume() throws Exception {
    int port = Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1));
    proxy = serve(blobStore, port);
  }

  /**
   * Creates one more bucket, named {@code prefix} plus a suffix unique in this JVM, and returns its
   * name. Per-bucket s3a settings ({@code fs.s3a.bucket.NAME.*}) let a test reach the same server
   * with different options.
   */
  public String createBucket(String prefix) {
    return createBucket(endpoint, prefix);
  }

  private static String createBucket(String endpoint, String prefix) {
    String bucket = prefix + "-" + ProcessHandle.current().pid() + "-" + BUCKETS.incrementAndGet();
    try (S3Client client =
        S3Client.builder()
            .endpointOverride(URI.create(endpoint))
            .forcePathStyle(true)
            .region(Region.US_EAST_1)
            .credentialsProvider(
                StaticCredentialsProvider.create(
                    AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
            .build()) {
      client.createBucket(b -> b.bucket(bucket));
    }
    return bucket;
  }

  /** The blob store, counting the calls of each method by name. */
  private static BlobStore counting(BlobStore store, Map<String, LongAdder> calls) {
    return (BlobStore)
        Proxy.newProxyInstance(
            BlobStore.class.getClassLoader(),
            new Class<?>[] {BlobStore.class},
            (proxy, method, args) -> {
              calls.computeIfAbsent(method.getName(), name -> new LongAdder()).increment();
              String key = keyOf(args);
              if (key != null) {
                calls
                    .computeIfAbsent(method.getName() + " " + key, name -> new LongAdder())
                    .increment();
              }
              try {
                return method.invoke(store, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  /** The object key a blob store call is about, or null. */
  private static String keyOf(Object[] args) {
    if (args == null || args.length == 0) {
      return null;
    }
    if (args[0] instanceof HeadObjectRequest head) {
      return head.bucket() + "/" + head.key();
    }
    if (args[0] instanceof GetObjectRequest get) {
      return get.bucket() + "/" + get.key();
    }
    if (args.length >= 2 && args[0] instanceof String bucket && args[1] instanceof String key) {
      return bucket + "/" + key;
    }
    return null;
  }

  /**
   * How many times the server's storage was called through the method of this name since the start,
   * for example {@code "blobMetadata"} (HEAD Object) or {@code "getBlob"} (GET Object).
   */
  public long calls(String method) {
    LongAdder count = calls.get(method);
    return count == null ? 0 : count.sum();
  }

  /**
   * Like {@link #calls(String)}, counting only the calls about one object, given by its s3a URI
   * ({@code s3a://BUCKET/KEY}).
   */
  public long calls(String method, String s3aUri) {
    String object = s3aUri.startsWith("s3a://") ? s3aUri.substring("s3a://".length()) : s3aUri;
    return calls(method + " " + object);
  }

  /** All call counts so far, by method name (for diagnostics). */
  public Map<String, Long> callCounts() {
    Map<String, Long> counts = new java.util.TreeMap<>();
    calls.forEach((name, count) -> counts.put(name, count.sum()));
    return counts;
  }

  /** The bucket's name. */
  public String bucket() {
    return bucket;
  }

  /** {@code s3a://BUCKET}, without a trailing slash. */
  public String root() {
    return "s3a://" + bucket;
  }

  /** The s3a URI of a key in the bucket: {@code uri("a/b")} is {@code s3a://BUCKET/a/b}. */
  public String uri(String key) {
    return root() + "/" + (key.startsWith("/") ? key.substring(1) : key);
  }

  /** The s3a URI of a key in another bucket of this server (see {@link #createBucket}). */
  public String uri(String bucket, String key) {
    return "s3a://" + bucket + "/" + (key.startsWith("/") ? key.substring(1) : key);
  }

  /** {@code http://127.0.0.1:PORT}. */
  public String endpoint() {
    return endpoint;
  }

  /** The s3a settings that reach this server, without the {@code spark.hadoop.} prefix. */
  public Map<String, String> hadoopProperties() {
    Map<String, String> p = new LinkedHashMap<>();
    p.put("fs.s3a.endpoint", endpoint);
    p.put("fs.s3a.endpoint.region", "us-east-1");
    p.put("fs.s3a.path.style.access", "true");
    p.put("fs.s3a.connection.ssl.enabled", "false");
    p.put(
        "fs.s3a.aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider");
    p.put("fs.s3a.access.key", ACCESS_KEY);
    p.put("fs.s3a.secret.key", SECRET_KEY);
    // small parts and in-memory buffers keep multipart uploads quick in tests
    p.put("fs.s3a.multipart.size", "5M");
    p.put("fs.s3a.fast.upload.buffer", "bytebuffer");
    // fail fast rather than retry for minutes if the server is gone
    p.put("fs.s3a.attempts.maximum", "2");
    p.put("fs.s3a.retry.limit", "2");
    return p;
  }

  /** The same settings as {@code spark.hadoop.*} properties, for a SparkConf. */
  public Map<String, String> sparkProperties() {
    Map<String, String> p = new LinkedHashMap<>();
    hadoopProperties().forEach((k, v) -> p.put("spark.hadoop." + k, v));
    return p;
  }

  /** A new configuration (with the defaults) plus {@link #hadoopProperties()}. */
  public Configuration configuration() {
    Configuration conf = new Configuration();
    hadoopProperties().forEach(conf::set);
    return conf;
  }

  /** How long {@link #start()} took, in milliseconds. */
  public long startMillis() {
    return startMillis;
  }

  /** Stops the server; its content is lost. */
  @Override
  public void close() throws Exception {
    proxy.stop();
  }
}
