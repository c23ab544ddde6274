package io.zk.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.test.Events;
import io.zk.test.Program;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * examples/ha/java/Controller.java against a real zk-server: Hadoop's exit codes, --format, and
 * failovers between two Java controllers guarding dummy services (a health file each; their
 * transitions and the fencing go to one ledger), so that a new active appears only after the old
 * one was fenced. The same checks as examples/ha/rust/tests/controller.rs.
 */
@Tag("examples")
@ExtendWith(SharedServer.class)
class HaControllerTest {
    private static final Path SOURCE = Program.repoRoot().resolve("examples/ha/java/Controller.java");

    private static List<String> args(ZkServer server, String nameservice, String... more) {
        List<String> args = new ArrayList<>(List.of("--zk", server.connectString(), "--nameservice", nameservice));
        args.addAll(List.of(more));
        return args;
    }

    private static int exit(String name, List<String> args) throws Exception {
        try (Program controller = Program.start(name, "Controller", args)) {
            return controller.waitExit();
        }
    }

    /** A controller for instance {@code id} whose service is healthy while {@code dir/<id>.healthy} exists. */
    private static Program guard(ZkServer server, String nameservice, String id, Path dir) throws Exception {
        String d = dir.toString();
        return Program.start(id, "Controller", args(server, nameservice, "--id", id, "--host", "127.0.0.1", "--port",
            "8020", "--session-timeout-ms", "2000", "--check-interval-ms", "100", "--check-cmd",
            "test -f " + d + "/" + id + ".healthy", "--on-active", "echo '" + id + " active' >> " + d + "/ledger",
            "--on-standby", "echo '" + id + " standby' >> " + d + "/ledger",
            // Hadoop's method list: the first fails, the second fences.
            "--fence", "shell(false)", "--fence",
            "shell(echo \"fence $target_namenodeid at $target_address by " + id + "\" >> " + d + "/ledger)"));
    }

    private static void awaitLedger(Path dir, String... expected) throws Exception {
        long deadline = System.currentTimeMillis() + Events.WAIT.toMillis();
        Path ledger = dir.resolve("ledger");
        while (!Files.exists(ledger) || Files.readAllLines(ledger).size() < expected.length) {
            assertTrue(System.currentTimeMillis() < deadline, "the ledger never reached " + List.of(expected));
            Thread.sleep(20);
        }
        assertEquals(List.of(expected), Files.readAllLines(ledger));
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void hadoopExitCodesAndFormat(ZkServer server) throws Exception {
        // As the README runs it: the source file on the jar's classpath.
        try (Program controller = Program.source("source", SOURCE, args(server, "codes", "--id", "nn1", "--check-cmd",
            "true", "--fence", "shell(true)"))) {
            assertEquals(3, controller.waitExit(), "no parent znode\n" + controller.describe());
            assertTrue(controller.lines().get(0).startsWith("[nn1] fatal /hadoop-ha/codes does not exist"),
                controller.describe());
        }
        try (Program format = Program.start("format", "Controller", args(server, "codes", "--format"))) {
            assertEquals(0, format.waitExit(), format.describe());
            assertEquals(List.of("[zkfc] exit formatted /hadoop-ha/codes"), format.lines());
        }
        assertEquals(2, exit("format", args(server, "codes", "--format", "--non-interactive")));
        // Interactive: a "no" (here: end of input) refuses too.
        assertEquals(2, exit("format", args(server, "codes", "--format")));
        assertEquals(0, exit("format", args(server, "codes", "--format", "--force")));
        assertEquals(4, exit("nofence", args(server, "codes", "--id", "nn1", "--check-cmd", "true")));
        assertEquals(1, exit("nocheck", args(server, "codes", "--id", "nn1")), "no health check");
        assertEquals(1, exit("bogus", List.of("--bogus")));
        String nowhere = "127.0.0.1:" + freePort();
        assertEquals(1, exit("usage", List.of("--zk", nowhere, "--nameservice", "codes", "--session-timeout-ms", "1000")),
            "usage is checked first");
        assertEquals(6, exit("nozk", List.of("--zk", nowhere, "--nameservice", "codes", "--format",
            "--session-timeout-ms", "1000")));
    }

    @Test
    void failoverFencesTheOldActiveFirst(ZkServer server, @TempDir Path dir) throws Exception {
        assertEquals(0, exit("format", args(server, "ns1", "--format")));
        Files.writeString(dir.resolve("nn1.healthy"), "");
        try (Program nn1 = guard(server, "ns1", "nn1", dir)) {
            nn1.waitFor("[nn1] active");
            Files.writeString(dir.resolve("nn2.healthy"), "");
            try (Program nn2 = guard(server, "ns1", "nn2", dir)) {
                nn2.waitFor("[nn2] standby");
                awaitLedger(dir, "nn1 active", "nn2 standby");

                // nn1's service turns unhealthy: nn1 quits needing fencing; nn2 fences it, then leads.
                Files.delete(dir.resolve("nn1.healthy"));
                nn1.waitFor("[nn1] health Unhealthy");
                nn2.waitFor("[nn2] active");
                assertTrue(nn2.hasLine("[nn2] fence nn1 ok"), nn2.describe());
                awaitLedger(dir, "nn1 active", "nn2 standby", "fence nn1 at 127.0.0.1:8020 by nn2", "nn2 active");

                // nn1 is healthy again: standby. Then nn2's controller dies (SIGKILL): once its session
                // expires nn1 fences nn2 and leads.
                Files.writeString(dir.resolve("nn1.healthy"), "");
                nn1.waitFor("[nn1] standby");
                nn2.kill();
                nn1.waitFor(l -> nn1.lines().stream().filter("[nn1] active"::equals).count() == 2, "[nn1] active again");
                awaitLedger(dir, "nn1 active", "nn2 standby", "fence nn1 at 127.0.0.1:8020 by nn2", "nn2 active",
                    "nn1 standby", "fence nn2 at 127.0.0.1:8020 by nn1", "nn1 active");

                // SIGTERM: a clean exit (0), leaving the breadcrumb for the next active to fence.
                nn1.terminate();
                assertEquals(0, nn1.waitExit(), nn1.describe());
                assertTrue(nn1.hasLine("[nn1] exit on SIGTERM"), nn1.describe());
            }
        }
    }
}
