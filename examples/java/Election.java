// Leader election, the classic recipe written out: each contender creates an ephemeral sequential
// node; the lowest leads; every other contender watches only the node just before its own. When
// the leader goes, exactly one contender wakes up (no herd effect). (io.zk.recipes.LeaderLatch
// packages the same algorithm on Curator's layout.)
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples Election 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)

import io.zk.CreateMode;
import io.zk.ZooDefs.Ids;
import io.zk.ZooKeeper;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

public class Election {
    static final int CONTENDERS = 4;

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        ZooKeeper admin = Examples.connect(hosts, 10_000);
        // A directory of our own, so nodes a killed earlier run left behind are not in line.
        String dir = "/examples/election/run-" + ProcessHandle.current().pid();
        Examples.ensurePath(admin, dir);
        AtomicInteger wakeups = new AtomicInteger();
        BlockingQueue<Integer> leaders = new LinkedBlockingQueue<>();
        CountDownLatch inLine = new CountDownLatch(CONTENDERS);
        List<CountDownLatch> resign = new ArrayList<>();
        for (int id = 0; id < CONTENDERS; id++) {
            CountDownLatch stepDown = new CountDownLatch(1);
            resign.add(stepDown);
            int me = id;
            Examples.spawn(() -> contend(me, hosts, dir, wakeups, leaders, inLine, stepDown));
        }
        inLine.await(30, TimeUnit.SECONDS);
        boolean ok = true;
        for (int round = 0; round < CONTENDERS; round++) {
            Integer leader = leaders.poll(30, TimeUnit.SECONDS);
            if (leader == null) Examples.verdict("election", false, "no leader came");
            int woken = wakeups.get();
            System.out.println("round " + round + ": contender " + leader + " leads; contenders woken so far: " + woken);
            ok &= woken == round; // each resignation woke exactly one contender
            resign.get(leader).countDown(); // the leader steps down: its session (and node) ends
        }
        Examples.removeTree(admin, dir);
        admin.close();
        Examples.verdict("election", ok, "each change of leader woke exactly one contender");
    }

    static void contend(int id, String hosts, String dir, AtomicInteger wakeups, BlockingQueue<Integer> leaders,
                        CountDownLatch inLine, CountDownLatch resign) throws Exception {
        ZooKeeper client = Examples.connect(hosts, 10_000);
        String path = client.create(dir + "/n_", String.valueOf(id).getBytes(), Ids.OPEN_ACL_UNSAFE,
            CreateMode.EPHEMERAL_SEQUENTIAL);
        String me = path.substring(path.lastIndexOf('/') + 1);
        while (true) {
            List<String> line = new ArrayList<>(client.getChildren(dir, false));
            line.sort(null); // the ten-digit suffix sorts as text
            int position = line.indexOf(me);
            if (position == 0) {
                System.out.println("contender " + id + " (" + me + ") leads");
                inLine.countDown();
                leaders.add(id);
                resign.await();
                client.close();
                return;
            }
            String before = line.get(position - 1);
            System.out.println("contender " + id + " (" + me + ") watches " + before);
            CountDownLatch gone = new CountDownLatch(1);
            boolean watching = client.exists(dir + "/" + before, event -> gone.countDown()) != null;
            inLine.countDown();
            if (watching) {
                gone.await();
                wakeups.incrementAndGet();
                System.out.println("contender " + id + " woke up: " + before + " is gone");
            }
        }
    }
}
