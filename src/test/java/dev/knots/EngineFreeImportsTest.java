package dev.knots;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The merge core must run in a plain unit test, so these packages may not import Spark,
 * Hadoop or Scala (style.md: only io/hadoop, spark and cli do). Add packages here as they land.
 */
class EngineFreeImportsTest {

    private static final List<String> ENGINE_FREE = List.of("linalg", "knots");
    private static final Pattern FORBIDDEN =
            Pattern.compile("^\\s*import\\s+(static\\s+)?(org\\.apache\\.spark|org\\.apache\\.hadoop|scala)\\.", Pattern.MULTILINE);

    @Test
    void corePackagesImportNoSparkHadoopOrScala() throws IOException {
        List<String> offenders = new ArrayList<>();
        int files = 0;
        for (String pkg : ENGINE_FREE) {
            Path dir = Path.of("src/main/java/dev/knots", pkg);
            assertTrue(Files.isDirectory(dir), "missing package directory " + dir);
            try (Stream<Path> sources = Files.walk(dir)) {
                for (Path source : sources.filter(p -> p.toString().endsWith(".java")).toList()) {
                    files++;
                    if (FORBIDDEN.matcher(Files.readString(source)).find()) {
                        offenders.add(source.toString());
                    }
                }
            }
        }
        assertTrue(files > 0, "no sources found under " + ENGINE_FREE);
        assertEquals(List.of(), offenders, "files importing Spark, Hadoop or Scala");
    }
}
