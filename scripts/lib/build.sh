# shellcheck shell=bash
# Build helpers shared by scripts/knots-merge and scripts/benchmark (source this file).
# Everything is built on demand and only when a source file or the pom is newer than the result.

KNOTS_ROOT=${KNOTS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KNOTS_JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

knots_die() { echo "knots-merge: $*" >&2; exit 1; }

# True when $1 is missing or older than the pom or, unless $2 is "pom-only", any file under src/main.
knots_stale() {
  local sources=("$KNOTS_ROOT/pom.xml")
  [ "${2:-}" = pom-only ] || sources+=("$KNOTS_ROOT/src/main")
  [ ! -e "$1" ] || [ -n "$(find "${sources[@]}" -newer "$1" -print -quit)" ]
}

# Maven output goes to stderr so that functions can print their result on stdout; the sed drops
# the colour resets Maven 3.8 prints even in batch mode.
knots_mvn() { (set -o pipefail; cd "$KNOTS_ROOT" && mvn -B -q "$@" 2>&1 | sed 's/\x1b\[0m//g') >&2; }

# target/classes, compiled when stale (the stamp is taken before compiling, so edits made
# during the build count as newer).
knots_ensure_classes() {
  local stamp=$KNOTS_ROOT/target/.classes-stamp
  knots_stale "$stamp" || return 0
  echo "knots-merge: compiling (mvn compile)" >&2
  mkdir -p "$KNOTS_ROOT/target" && touch "$stamp.new"
  knots_mvn -DskipTests compile || knots_die "Cannot compile the project; see the Maven output above."
  mv "$stamp.new" "$stamp"
}

# target/classpath.txt: the runtime classpath *with* the provided Spark jars and without test jars.
# includeScope=compile gives compile + provided; runtime adds the runtime-only jars. (The
# property is includeScope; -Dmdep.includeScope is silently ignored and yields the test classpath.)
knots_ensure_classpath() {
  local out=$KNOTS_ROOT/target/classpath.txt
  knots_stale "$out" pom-only || return 0
  echo "knots-merge: resolving the Spark classpath once (mvn dependency:build-classpath)" >&2
  mkdir -p "$KNOTS_ROOT/target"
  local scope
  for scope in compile runtime; do
    knots_mvn dependency:build-classpath -DincludeScope=$scope -Dmdep.outputFile="target/classpath-$scope.txt" \
      || knots_die "Cannot resolve the $scope classpath; run once without -o/offline if jars are missing."
  done
  knots_join_classpaths "$KNOTS_ROOT"/target/classpath-{compile,runtime}.txt >"$out.new"
  grep -q 'spark-core_2\.13' "$out.new" || knots_die "Spark is missing from $out.new (expected provided jars)."
  ! grep -qi 'junit' "$out.new" || knots_die "Test jars leaked into $out.new."
  local jar
  while IFS= read -r jar; do
    [ -e "$jar" ] || knots_die "The classpath names $jar, which does not exist: the local Maven repository lacks it. Run mvn -B dependency:resolve once online, then retry."
  done < <(tr ':' '\n' <"$out.new")
  mv "$out.new" "$out"
}

# Prints the classpaths in files $1... as one, each jar once, in order of first appearance. Maven
# writes them without a final newline, so each file is split on its own: joined first, the last jar
# of one file and the first of the next would run together into one path that names neither.
knots_join_classpaths() {
  local file
  for file in "$@"; do
    tr ':' '\n' <"$file"
    echo
  done | awk 'NF && !seen[$0]++' | paste -sd: -
}

# Prints target/classes plus the runtime classpath, building both when stale.
knots_local_classpath() {
  knots_ensure_classes
  knots_ensure_classpath
  echo "$KNOTS_ROOT/target/classes:$(cat "$KNOTS_ROOT/target/classpath.txt")"
}

# target/test-classes, where the benchmark harness lives (it is no part of the application), compiled
# when stale; prints it.
knots_bench_classes() {
  local stamp=$KNOTS_ROOT/target/.test-classes-stamp
  if knots_stale "$stamp" || [ -n "$(find "$KNOTS_ROOT/src/test" -newer "$stamp" -print -quit)" ]; then
    echo "knots-merge: compiling the benchmark (mvn test-compile)" >&2
    mkdir -p "$KNOTS_ROOT/target" && touch "$stamp.new"
    knots_mvn -DskipTests test-compile || knots_die "Cannot compile the benchmark; see the Maven output above."
    mv "$stamp.new" "$stamp"
  fi
  echo "$KNOTS_ROOT/target/test-classes"
}

# The local driver's classpath: the project's classes as one jar (knots_classes_jar), the Maven
# classpath, and conf/ last, for conf/core-site.xml (no jar carries one). Builds what is stale.
# Jars only, up to conf/, as the JVM's class-data archive (knots_class_archive) requires.
knots_driver_classpath() {
  knots_ensure_classes
  knots_ensure_classpath
  echo "$(knots_classes_jar):$(cat "$KNOTS_ROOT/target/classpath.txt"):$KNOTS_ROOT/conf"
}

# Prints target/knots-classes.jar, target/classes packed as one jar, packing it again when any
# class is newer.
knots_classes_jar() {
  local jar=$KNOTS_ROOT/target/knots-classes.jar
  if [ ! -e "$jar" ] || [ -n "$(find "$KNOTS_ROOT/target/classes" -newer "$jar" -print -quit)" ]; then
    "${KNOTS_JAVA%java}jar" cf "$jar.new" -C "$KNOTS_ROOT/target/classes" . \
      || knots_die "Cannot pack target/classes into $jar with ${KNOTS_JAVA%java}jar; set JAVA_HOME to a JDK 17, whose bin/ has the jar tool."
    mv "$jar.new" "$jar"
  fi
  echo "$jar"
}

# Prints where the class-data archive (JDK dynamic CDS) of a local driver on classpath $1 goes:
# target/class-data/, named for the java binary and the classpath, so that neither another JVM nor
# another classpath ever maps it (the JVM refuses a mismatched archive, with a warning, but a
# truncated one can crash it, so archives are only ever renamed into place whole).
knots_class_archive() {
  local java key
  java=$(readlink -f "$(command -v "$KNOTS_JAVA")")
  key=$(printf '%s\n' "$java" "$(stat -c %Y "$java")" "$1" | md5sum | cut -c1-16)
  echo "$KNOTS_ROOT/target/class-data/$key.jsa"
}

# Whether the archive $1 is there and newer than every jar its classpath may have changed: the
# project's classes jar and the Maven classpath (the other jars change only with it).
knots_class_archive_fresh() {
  [ -s "$1" ] && [ "$1" -nt "$KNOTS_ROOT/target/knots-classes.jar" ] && [ "$1" -nt "$KNOTS_ROOT/target/classpath.txt" ]
}

# Whether the command line $@ is a merge that starts Spark, and so loads the classes a merge needs:
# the run that records the archive, when there is none (as dev.knots.cli.SparkStart.needed decides).
knots_records_class_archive() {
  [ "${1:-}" = merge ] || return 1
  local arg
  for arg in "$@"; do
    case "$arg" in --help | -h | --dry-run) return 1 ;; esac
  done
}

# Prints the path of the shaded jar, packaging it when missing or stale.
knots_fat_jar() {
  local jar
  jar=$(find "$KNOTS_ROOT/target" -maxdepth 1 -name 'knots-merge-*-all.jar' 2>/dev/null | head -n 1)
  if [ -z "$jar" ] || knots_stale "$jar"; then
    echo "knots-merge: building the fat jar (mvn package)" >&2
    knots_mvn -DskipTests package || knots_die "Cannot build the fat jar; see the Maven output above."
    jar=$(find "$KNOTS_ROOT/target" -maxdepth 1 -name 'knots-merge-*-all.jar' | head -n 1)
    [ -n "$jar" ] || knots_die "mvn package made no target/knots-merge-*-all.jar."
  fi
  echo "$jar"
}

# Prints a JVM memory size (-Xmx syntax: 4g, 4096m, 4194304k, bytes) in mebibytes; fails, printing
# nothing, on anything else.
knots_megabytes() {
  local size=$1 number unit
  [[ $size =~ ^([0-9]+)([kKmMgGtT]?)$ ]] || return 1
  number=${BASH_REMATCH[1]} unit=${BASH_REMATCH[2]}
  case "$unit" in
    "") echo $((number / 1048576)) ;;
    k | K) echo $((number / 1024)) ;;
    m | M) echo "$number" ;;
    g | G) echo $((number * 1024)) ;;
    t | T) echo $((number * 1048576)) ;;
  esac
}

# The local driver's heap sizing for a -Xmx of $1, or nothing when $1 is no size (see the comment at
# the flags in scripts/knots-merge): G1 starts at 3/4 of the heap, and its young generation is capped
# at 1/16 of it (at least 64 MiB), since the job's large arrays skip the young generation anyway.
knots_heap_flags() {
  local heap_mb young_mb
  heap_mb=$(knots_megabytes "$1") || return 0
  young_mb=$((heap_mb / 16 > 64 ? heap_mb / 16 : 64))
  echo "-Xms$((heap_mb * 3 / 4))m -XX:MaxNewSize=${young_mb}m"
}

# The JVM flags Spark's launcher would give the driver (the pom's spark.jvm.flags): a JVM started
# with plain java gets none of them, and Spark needs its module openings on Java 17 and later.
knots_jvm_flags() {
  local flags
  flags=$(sed -n 's:.*<spark.jvm.flags>\(.*\)</spark.jvm.flags>.*:\1:p' "$KNOTS_ROOT/pom.xml")
  [ -n "$flags" ] || knots_die "Cannot find <spark.jvm.flags> in $KNOTS_ROOT/pom.xml."
  echo "$flags"
}

# The details log of one local run (conf/log4j2.properties: stack traces, Spark's task failures),
# which an Error: line names: in $KNOTS_LOG_DIR, else $TMPDIR, else /tmp, named by the time and the
# process id ($$, the JVM's own once the script execs it). log4j creates it only if it writes to it.
knots_log_file() {
  echo "${KNOTS_LOG_DIR:-${TMPDIR:-/tmp}}/knots-merge-$(date +%Y%m%d-%H%M%S)-$$.log"
}

# The spark-submit to use, or nothing: $SPARK_HOME/bin/spark-submit first, then the PATH.
knots_spark_submit() {
  if [ -n "${SPARK_HOME:-}" ] && [ -x "$SPARK_HOME/bin/spark-submit" ]; then
    echo "$SPARK_HOME/bin/spark-submit"
  else
    command -v spark-submit || true
  fi
}

# Builds what timed runs of scripts/knots-merge need, so that none of them builds or records
# anything: the fat jar under spark-submit, else the local driver's class-data archive (recorded
# with the bundled example). $1: the local driver's classpath, which names the archive.
knots_prepare_timed_runs() {
  if [ -n "$(knots_spark_submit)" ]; then
    knots_fat_jar >/dev/null
  elif ! knots_class_archive_fresh "$(knots_class_archive "$1")"; then
    echo "benchmark: recording the JVM's class-data archive with the bundled example first" >&2
    KNOTS_EXAMPLE_OUTPUT="$KNOTS_ROOT/target/class-data/example-merge" "$KNOTS_ROOT/scripts/example" >/dev/null 2>&1 \
      || knots_die "The bundled example failed; run scripts/example to see why."
  fi
}
