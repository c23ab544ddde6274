// Distributed lock (io.zk.recipes.Lock, Curator's InterProcessMutex layout): contenders queue as
// ephemeral sequential nodes and each watches only the one before it, so a release wakes exactly
// the next in line (no herd effect) and the lock is handed over in queue order. Then several
// clients do a read-modify-write of a counter that only the lock keeps from losing updates.
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples DistributedLock 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)

import io.zk.CreateMode;
import io.zk.ZooDefs.Ids;
import io.zk.ZooKeeper;
import io.zk.recipes.Lease;
import io.zk.recipes.Lock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

public class DistributedLock {
    static final int WORKERS = 4;
    static final int ROUNDS = 5;

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        String dir = "/examples/lock/run-" + ProcessHandle.current().pid();
        String counter = dir + "-counter";
        ZooKeeper first = Examples.connect(hosts, 10_000);
        Examples.ensurePath(first, "/examples/lock");
        first.create(counter, "0".getBytes(), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);

        // 1. Queue order: while one client holds the lock, workers line up one by one.
        Lock line = new Lock(first, dir);
        Lease holder = line.acquire();
        List<Integer> order = new CopyOnWriteArrayList<>();
        List<ZooKeeper> clients = new ArrayList<>();
        List<Lock> locks = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int id = 0; id < WORKERS; id++) {
            ZooKeeper client = Examples.connect(hosts, 10_000);
            Lock lock = new Lock(client, dir);
            clients.add(client);
            locks.add(lock);
            int me = id;
            workers.add(Examples.spawn(() -> {
                Lease lease = lock.acquire();
                System.out.printf("worker %d got the lock (fencing token 0x%x)%n", me, lease.fencingToken());
                order.add(me);
                lease.release();
            }));
            while (line.contenders().size() < id + 2) Thread.sleep(5); // wait until it is in line
            System.out.println("worker " + id + " is in line");
        }
        holder.release();
        for (Thread worker : workers) worker.join();
        boolean fifo = order.equals(List.of(0, 1, 2, 3));

        // 2. Mutual exclusion: unprotected read-modify-writes, serialised by the lock.
        AtomicBoolean inside = new AtomicBoolean();
        AtomicBoolean alone = new AtomicBoolean(true);
        workers.clear();
        for (int id = 0; id < WORKERS; id++) {
            ZooKeeper client = clients.get(id);
            Lock lock = locks.get(id);
            workers.add(Examples.spawn(() -> {
                for (int round = 0; round < ROUNDS; round++) {
                    Lease lease = lock.acquire();
                    if (inside.getAndSet(true)) alone.set(false);
                    int n = Integer.parseInt(new String(client.getData(counter, false, null)));
                    client.setData(counter, String.valueOf(n + 1).getBytes(), -1);
                    inside.set(false);
                    lease.release();
                }
                client.close();
            }));
        }
        for (Thread worker : workers) worker.join();
        String total = new String(first.getData(counter, false, null));
        System.out.println("counter " + total + ", expected " + WORKERS * ROUNDS);
        Examples.removeTree(first, dir);
        first.delete(counter, -1);
        first.close();
        boolean ok = fifo && alone.get() && total.equals(String.valueOf(WORKERS * ROUNDS));
        Examples.verdict("lock", ok, "handed over in queue order; no update lost");
    }
}
