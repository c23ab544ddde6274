package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.internal.NativeLoader;
import io.zk.test.Jvm;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The packed native library: found, extracted once per content, safe with concurrent JVMs, clear when missing. */
class LoaderTest {
    private static final String CLASSPATH = Jvm.zkClasses() + File.pathSeparator + Jvm.testClasses();

    @Test
    void theLibraryComesFromTheJarsOwnPlatformFolder() throws Exception {
        NativeLoader.load();
        assertEquals("linux-x86_64", NativeLoader.platform());
        assertEquals("0.1.0", NativeLoader.version());
        Path loaded = Paths.get(NativeLoader.loadedFrom());
        assertTrue(loaded.getFileName().toString().equals("libzk_java.so"), loaded.toString());
        assertTrue(Files.exists(Paths.get(Jvm.zkClasses(), "native", "linux-x86_64", "libzk_java.so")));
    }

    @Test
    void concurrentJvmsExtractOnceAndAllLoad() throws Exception {
        // In a fresh clone this test may run before anything made the work directory.
        Path work = Files.createDirectories(Paths.get(System.getProperty("zk.work.dir", "target")));
        Path dir = Files.createTempDirectory(work, "native-");
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            processes.add(Jvm.start(CLASSPATH, "io.zk.test.LoadOnly", List.of("-D" + NativeLoader.DIR_PROPERTY + "=" + dir)));
        }
        String first = null;
        for (Process process : processes) {
            Jvm.Result result = Jvm.finish(process, Duration.ofMinutes(1));
            assertEquals(0, result.exitCode(), result.describe());
            String line = result.stdout().get(0);
            assertTrue(line.startsWith("loaded " + dir), result.describe());
            if (first == null) {
                first = line;
            }
            assertEquals(first, line, "every JVM uses the one extracted copy");
        }
        try (Stream<Path> files = Files.walk(dir)) {
            List<String> names = files.filter(Files::isRegularFile).map(p -> p.getFileName().toString()).toList();
            assertEquals(List.of("libzk_java.so"), names, "no partial files left");
        }
    }

    @Test
    void anUnsupportedPlatformFailsWithAClearMessage() throws Exception {
        Jvm.Result result = Jvm.run(CLASSPATH, "io.zk.test.LoadOnly", List.of("-Dos.arch=sparcv9"), Duration.ofMinutes(1));
        String line = result.stdout().get(0);
        assertTrue(line.startsWith("error zk: no native library for this platform (linux-sparcv9)"), result.describe());
    }

    @Test
    void anExplicitLibraryPathWins() throws Exception {
        String library = Paths.get(Jvm.zkClasses(), "native", "linux-x86_64", "libzk_java.so").toAbsolutePath().toString();
        Jvm.Result result = Jvm.run(CLASSPATH, "io.zk.test.LoadOnly", List.of("-D" + NativeLoader.LIBRARY_PROPERTY + "=" + library),
            Duration.ofMinutes(1));
        assertEquals("loaded " + library, result.stdout().get(0), result.describe());
    }
}
