// Group membership: members come and go. Each member is its own process holding an ephemeral node
// /examples/group/<name> (io.zk.recipes.Group); an observer follows the group with a children
// watch. A member that leaves (closes its session) is gone at once; a member that is killed
// (SIGKILL: nothing is closed) is gone once its session times out.
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples GroupMembership 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)
//
// (It starts its members itself: `GroupMembership HOSTS member NAME` is one member.)

import io.zk.ZooKeeper;
import io.zk.recipes.Group;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

public class GroupMembership {
    static final String GROUP = "/examples/group";
    static final int MEMBER_SESSION_MS = 3000;

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        if (args.length > 2 && args[1].equals("member")) {
            member(hosts, args[2]);
            return;
        }
        ZooKeeper observer = Examples.connect(hosts, 10_000);
        Examples.ensurePath(observer, GROUP);
        List<Process> members = new ArrayList<>();
        for (String name : List.of("member-a", "member-b", "member-c")) {
            members.add(new ProcessBuilder(Examples.self(GroupMembership.class, hosts, "member", name))
                .redirectOutput(ProcessBuilder.Redirect.INHERIT).redirectError(ProcessBuilder.Redirect.INHERIT).start());
        }
        boolean all = waitMembers(observer, m -> m.containsAll(List.of("member-a", "member-b", "member-c")));

        // member-c leaves: it closes its session when its stdin closes.
        members.get(2).getOutputStream().close();
        boolean left = waitMembers(observer, m -> !m.contains("member-c"));
        members.get(2).waitFor();

        // member-b is killed: its node stays until the server expires its session.
        long killedAt = System.nanoTime();
        members.get(1).destroyForcibly().waitFor();
        boolean gone = waitMembers(observer, m -> !m.contains("member-b"));
        long afterMs = (System.nanoTime() - killedAt) / 1_000_000;
        System.out.println("member-b was killed: gone after " + afterMs + " ms (session timeout " + MEMBER_SESSION_MS + " ms)");

        members.get(0).getOutputStream().close();
        members.get(0).waitFor();
        observer.close();
        // Expiry takes the session timeout (the server may raise it to its minimum) and a few ticks more.
        boolean inTime = afterMs <= MEMBER_SESSION_MS + 5000;
        Examples.verdict("group", all && left && gone && inTime, "members joined, left and were expired");
    }

    /** One member: joins, then stays until its stdin closes (or it is killed). */
    static void member(String hosts, String name) throws Exception {
        ZooKeeper client = Examples.connect(hosts, MEMBER_SESSION_MS);
        Group me = Group.join(client, GROUP, name, ("pid " + ProcessHandle.current().pid()).getBytes());
        System.out.println(name + " joined");
        System.in.readAllBytes();
        me.leave();
        client.close();
        System.out.println(name + " left");
    }

    /** Follows the group with a children watch until {@code done} holds (or 30 s pass); prints each membership seen. */
    static boolean waitMembers(ZooKeeper observer, Predicate<List<String>> done) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            CountDownLatch changed = new CountDownLatch(1);
            List<String> members = new ArrayList<>(observer.getChildren(GROUP, event -> changed.countDown()));
            members.sort(null);
            System.out.println("members: " + members);
            if (done.test(members)) return true;
            if (!changed.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) return false;
        }
    }
}
