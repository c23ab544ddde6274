package io.zk.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.test.Program;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every example of examples/java run against a real zk-server, checked on its exit status, its
 * verdict and the lines that show the property (the same checks as examples/rust/tests).
 */
@Tag("examples")
@ExtendWith(SharedServer.class)
class ExamplesTest {
    /** Runs example class {@code main}; its output after checking that it succeeded and printed its verdict. */
    private static List<String> example(ZkServer server, String verdict, String main) throws Exception {
        try (Program program = Program.start(verdict, main, List.of(server.connectString()))) {
            int exit = program.waitExit();
            assertEquals(0, exit, program.describe());
            assertTrue(program.lines().stream().anyMatch(l -> l.startsWith(verdict + ": ok")), program.describe());
            return program.lines();
        }
    }

    private static List<Integer> positions(List<String> lines, Predicate<String> wanted) {
        return IntStream.range(0, lines.size()).filter(i -> wanted.test(lines.get(i))).boxed().toList();
    }

    @Test
    void namingGivesUniqueNamesAsItsReadmeRunsIt(ZkServer server, @TempDir Path classes) throws Exception {
        // The README's way: examples/java/*.java compiled on their own against the jar, then run
        // with the jar first on the classpath.
        Program.compile(classes, "examples/java");
        try (Program program = Program.start("naming", classes, "Naming", List.of(server.connectString()))) {
            assertEquals(0, program.waitExit(), program.describe());
            List<String> names = program.lines().stream().filter(l -> l.contains(" got "))
                .map(l -> l.split(" got ")[1]).toList();
            assertEquals(20, names.size(), program.describe());
            assertEquals(20, names.stream().distinct().count(), "names are unique");
            assertTrue(names.stream().allMatch(n -> n.startsWith("/examples/naming/job-")), names.toString());
            assertTrue(program.lines().contains("naming: ok (20 unique names)"), program.describe());
        }
    }

    @Test
    void configReadersReloadOnEveryChange(ZkServer server) throws Exception {
        List<String> config = example(server, "config", "Config");
        for (int reader = 0; reader < 3; reader++) {
            String prefix = "reader " + reader + " reloaded";
            List<String> reloads = config.stream().filter(l -> l.startsWith(prefix)).toList();
            assertEquals(5, reloads.size(), config.toString());
            assertTrue(reloads.get(4).contains("version=5"), reloads.toString());
        }
    }

    @Test
    void groupMembersJoinLeaveAndExpire(ZkServer server) throws Exception {
        List<String> group = example(server, "group", "GroupMembership");
        for (String member : List.of("member-a", "member-b", "member-c")) {
            assertTrue(group.contains(member + " joined"), group.toString());
        }
        assertTrue(group.contains("member-c left"), group.toString());
        assertTrue(group.stream().anyMatch(l -> l.startsWith("member-b was killed: gone after")), group.toString());
        assertTrue(!group.contains("member-b left"), "a killed member never leaves by itself");
    }

    @Test
    void electionWakesOnlyTheNextInLine(ZkServer server) throws Exception {
        List<String> election = example(server, "election", "Election");
        for (int round = 0; round < 4; round++) {
            String line = "round " + round + ": contender";
            assertTrue(election.stream().anyMatch(l -> l.startsWith(line)), election.toString());
        }
        // Every contender but the first watched only its predecessor, and each leader's departure
        // woke exactly the one contender watching it.
        assertEquals(3, positions(election, l -> l.contains(" watches n_")).size(), election.toString());
        assertEquals(3, positions(election, l -> l.contains(" woke up: ")).size(), election.toString());
        for (String line : election) {
            if (line.contains(" woke up: ")) {
                String who = line.substring(0, line.indexOf(" woke up: "));
                String gone = line.substring(line.indexOf(" woke up: ") + 10).replace(" is gone", "");
                assertTrue(election.stream().anyMatch(l -> l.startsWith(who) && l.endsWith(" watches " + gone)),
                    who + " woke for a node it did not watch: " + election);
            }
        }
    }

    @Test
    void lockIsHandedOverInQueueOrder(ZkServer server) throws Exception {
        List<String> lock = example(server, "lock", "DistributedLock");
        List<String> got = lock.stream().filter(l -> l.contains(" got the lock")).toList();
        assertEquals(4, got.size(), lock.toString());
        for (int i = 0; i < got.size(); i++) {
            assertTrue(got.get(i).startsWith("worker " + i + " "), "queue order: " + got);
        }
        assertTrue(lock.contains("counter 20, expected 20"), lock.toString());
    }

    @Test
    void barrierHoldsEveryoneUntilAllArrivedAndFinished(ZkServer server) throws Exception {
        List<String> barrier = example(server, "barrier", "Barriers");
        List<Integer> arrived = positions(barrier, l -> l.endsWith(" arrives"));
        List<Integer> working = positions(barrier, l -> l.endsWith(" starts working"));
        List<Integer> finished = positions(barrier, l -> l.endsWith(" finished, leaving"));
        List<Integer> left = positions(barrier, l -> l.endsWith(" left"));
        assertEquals(List.of(4, 4, 4, 4), List.of(arrived.size(), working.size(), finished.size(), left.size()));
        assertTrue(arrived.get(3) < working.get(0), barrier.toString());
        assertTrue(finished.get(3) < left.get(0), barrier.toString());
    }

    @Test
    void queueItemsAreTakenOnceInOrderAcrossProcesses(ZkServer server) throws Exception {
        List<String> queue = example(server, "queue", "FifoQueue");
        List<String> taken = new ArrayList<>(queue.stream().filter(l -> l.contains(" took p")).toList());
        assertEquals(20, taken.size(), queue.toString());
        assertEquals(20, taken.stream().map(l -> l.split(" took ")[1]).distinct().count(), queue.toString());
    }
}
