package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.test.Jvm;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The port check: programs written against org.apache.zookeeper (src/portcheck) run on Apache's
 * own client jar (Maven Central, 3.8.x) and, with only their imports rewritten by the build
 * (maven-antrun: org.apache.zookeeper -> io.zk), on this jar; both runs must print the same.
 */
@ExtendWith(SharedServer.class)
class PortCheckTest {
    private static final Path DIR = Paths.get(System.getProperty("zk.portcheck.dir", "target/portcheck"));
    private static String apacheClasspath;
    private static String zkClasspath;

    @BeforeAll
    static void compileBothWays() throws Exception {
        apacheClasspath = compile("apache", Jvm.referenceClasspath());
        zkClasspath = compile("zk", Jvm.zkClasses());
    }

    private static String compile(String flavour, String classpath) throws Exception {
        Path sources = DIR.resolve(flavour + "-src");
        Path classes = DIR.resolve(flavour + "-classes");
        Files.createDirectories(classes);
        List<String> files;
        try (Stream<Path> walk = Files.walk(sources)) {
            files = walk.filter(p -> p.toString().endsWith(".java")).map(Path::toString).collect(Collectors.toList());
        }
        assertFalse(files.isEmpty(), "no port check sources in " + sources);
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", classpath, "-Xlint:none"));
        args.addAll(files);
        int status = javac.run(null, null, null, args.toArray(new String[0]));
        assertEquals(0, status, "the port check program does not compile against " + flavour);
        return classes + File.pathSeparator + classpath;
    }

    @Test
    void onlyTheImportsDiffer() throws Exception {
        for (String program : List.of("PortCheck.java", "ElectorCheck.java")) {
            List<String> apache = Files.readAllLines(DIR.resolve("apache-src/portcheck/" + program));
            List<String> zk = Files.readAllLines(DIR.resolve("zk-src/portcheck/" + program));
            assertEquals(apache.size(), zk.size());
            int imports = 0;
            for (int i = 0; i < apache.size(); i++) {
                if (!apache.get(i).equals(zk.get(i))) {
                    assertTrue(apache.get(i).startsWith("import org.apache.zookeeper"), apache.get(i));
                    assertEquals(apache.get(i).replace("org.apache.zookeeper", "io.zk"), zk.get(i));
                    imports++;
                }
            }
            assertTrue(imports > 5, program + " imports Apache's API");
            assertFalse(String.join("\n", zk).contains("org.apache.zookeeper"));
        }
    }

    private static void sameOnBoth(String main, ZkServer server) throws Exception {
        String id = Long.toString(System.nanoTime());
        Jvm.Result apache = Jvm.run(apacheClasspath, main, List.of(), Duration.ofMinutes(2), server.connectString(),
            "/portcheck-apache-" + id);
        assertEquals(0, apache.exitCode(), "on Apache's client: " + apache.describe());
        Jvm.Result zk = Jvm.run(zkClasspath, main, List.of(), Duration.ofMinutes(2), server.connectString(),
            "/portcheck-zk-" + id);
        assertEquals(0, zk.exitCode(), "on io.zk: " + zk.describe());
        assertEquals("done", apache.stdout().get(apache.stdout().size() - 1), apache.describe());
        assertEquals(String.join("\n", apache.stdout()), String.join("\n", zk.stdout()),
            main + " printed differently on io.zk than on Apache's client");
        assertFalse(zk.stdout().stream().anyMatch(line -> line.contains("MISSING")), zk.describe());
    }

    @Test
    void theApiProgramPrintsTheSameOnBothClients(ZkServer server) throws Exception {
        sameOnBoth("portcheck.PortCheck", server);
    }

    @Test
    void aHadoopStyleElectorRunsTheSameOnBothClients(ZkServer server) throws Exception {
        sameOnBoth("portcheck.ElectorCheck", server);
    }
}
