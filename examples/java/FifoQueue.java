// FIFO queue (io.zk.recipes.DistributedQueue, kazoo's layout) between processes: producers and
// consumers are separate programs sharing only the znode /examples/queue/<run>. Every item is
// consumed exactly once, and each consumer gets any one producer's items in the order they were put.
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples FifoQueue 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)
//
// (It starts its producers and consumers itself: `FifoQueue HOSTS produce PATH ID COUNT` and
// `FifoQueue HOSTS consume PATH ID` are one of each.)

import io.zk.ZooKeeper;
import io.zk.recipes.DistributedQueue;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

public class FifoQueue {
    static final int PRODUCERS = 2;
    static final int CONSUMERS = 2;
    static final int ITEMS = 10;
    static final byte[] STOP = "stop".getBytes();

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        if (args.length > 1 && args[1].equals("produce")) {
            produce(hosts, args[2], args[3], Integer.parseInt(args[4]));
            return;
        } else if (args.length > 1 && args[1].equals("consume")) {
            consume(hosts, args[2], args[3]);
            return;
        }
        String path = "/examples/queue/run-" + ProcessHandle.current().pid();
        List<Process> consumers = new ArrayList<>();
        for (int id = 0; id < CONSUMERS; id++) {
            consumers.add(start(Examples.self(FifoQueue.class, hosts, "consume", path, String.valueOf(id))));
        }
        List<Process> producers = new ArrayList<>();
        for (int id = 0; id < PRODUCERS; id++) {
            producers.add(start(Examples.self(FifoQueue.class, hosts, "produce", path, String.valueOf(id), String.valueOf(ITEMS))));
        }
        for (Process producer : producers) {
            if (producer.waitFor() != 0) Examples.verdict("queue", false, "a producer failed");
        }
        // Everything is queued: one stop per consumer goes after it (FIFO).
        ZooKeeper client = Examples.connect(hosts, 10_000);
        DistributedQueue queue = new DistributedQueue(client, path);
        for (int i = 0; i < CONSUMERS; i++) queue.put(STOP);
        Map<String, Integer> taken = new TreeMap<>();
        boolean inOrder = true;
        for (Process consumer : consumers) {
            Map<String, Integer> last = new HashMap<>(); // per producer
            BufferedReader out = new BufferedReader(new InputStreamReader(consumer.getInputStream()));
            for (String line; (line = out.readLine()) != null; ) {
                System.out.println(line);
                String[] took = line.split(" took ");
                if (took.length < 2) continue;
                taken.merge(took[1], 1, Integer::sum);
                String[] item = took[1].split("-"); // p<producer>-<n>
                Integer before = last.put(item[0], Integer.parseInt(item[1]));
                inOrder &= before == null || before < Integer.parseInt(item[1]);
            }
            if (consumer.waitFor() != 0) Examples.verdict("queue", false, "a consumer failed");
        }
        boolean once = taken.size() == PRODUCERS * ITEMS && taken.values().stream().allMatch(n -> n == 1);
        Examples.removeTree(client, path);
        client.close();
        Examples.verdict("queue", once && inOrder, taken.size() + " items, each consumed once, in order per producer");
    }

    static void produce(String hosts, String path, String id, int count) throws Exception {
        try (ZooKeeper client = Examples.connect(hosts, 10_000)) {
            DistributedQueue queue = new DistributedQueue(client, path);
            for (int n = 0; n < count; n++) queue.put(("p" + id + "-" + n).getBytes());
        }
    }

    static void consume(String hosts, String path, String id) throws Exception {
        Examples.spawn(() -> { // orphaned (the starting process died): stop
            System.in.readAllBytes();
            System.exit(3);
        });
        try (ZooKeeper client = Examples.connect(hosts, 10_000)) {
            DistributedQueue queue = new DistributedQueue(client, path);
            while (true) {
                byte[] item = queue.poll(60, TimeUnit.SECONDS);
                if (item == null) System.exit(1); // nothing for a minute: the test is broken
                if (Arrays.equals(item, STOP)) break;
                System.out.println("consumer " + id + " took " + new String(item));
            }
        }
        System.exit(0);
    }

    /** A worker process; its stdin closes when this process ends, so it ends too. */
    static Process start(List<String> command) throws Exception {
        return new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }
}
