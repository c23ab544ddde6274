// Barrier (io.zk.recipes.DoubleBarrier): a computation starts only once every participant has
// arrived, and nobody leaves before everybody has finished.
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples Barriers 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)

import io.zk.ZooKeeper;
import io.zk.recipes.DoubleBarrier;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

public class Barriers {
    static final int PARTICIPANTS = 4;

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        String path = "/examples/barrier/run-" + ProcessHandle.current().pid();
        AtomicInteger entered = new AtomicInteger();
        AtomicInteger finished = new AtomicInteger();
        AtomicBoolean ok = new AtomicBoolean(true);
        List<Thread> participants = new ArrayList<>();
        for (int id = 0; id < PARTICIPANTS; id++) {
            int me = id;
            participants.add(Examples.spawn(() -> {
                try (ZooKeeper client = Examples.connect(hosts, 10_000)) {
                    DoubleBarrier barrier = new DoubleBarrier(client, path, PARTICIPANTS, String.valueOf(me).getBytes());
                    Thread.sleep(100L * me); // arrive one after another, so the early ones really wait
                    entered.incrementAndGet();
                    System.out.println("participant " + me + " arrives");
                    if (!barrier.enter(30, TimeUnit.SECONDS)) ok.set(false);
                    if (entered.get() != PARTICIPANTS) ok.set(false);
                    System.out.println("participant " + me + " starts working");
                    Thread.sleep(50L * (PARTICIPANTS - me));
                    finished.incrementAndGet();
                    System.out.println("participant " + me + " finished, leaving");
                    if (!barrier.leave(30, TimeUnit.SECONDS)) ok.set(false);
                    if (finished.get() != PARTICIPANTS) ok.set(false);
                    System.out.println("participant " + me + " left");
                }
            }));
        }
        for (Thread participant : participants) participant.join();
        ZooKeeper admin = Examples.connect(hosts, 10_000);
        Examples.removeTree(admin, path);
        admin.close();
        Examples.verdict("barrier", ok.get(), "nobody started before all arrived, nobody left before all finished");
    }
}
