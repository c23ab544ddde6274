package io.zk.recipes;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.CreateMode;
import io.zk.KeeperException;
import io.zk.ZooDefs.Ids;
import io.zk.ZooKeeper;
import io.zk.test.Events;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The core's recipes through io.zk.recipes, with their fencing tokens and lost signals. */
@ExtendWith(SharedServer.class)
class RecipesTest {
    private ZkServer server;
    private ZooKeeper a;
    private ZooKeeper b;
    private String root;

    @BeforeEach
    void open(ZkServer server) throws Exception {
        this.server = server;
        a = Servers.connect(server, new Events("a"));
        b = Servers.connect(server, new Events("b"));
        root = Servers.root(a, "recipes");
    }

    @AfterEach
    void close() throws Exception {
        a.close();
        b.close();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void lockExcludesAndFences() throws Exception {
        Lock lockA = new Lock(a, root + "/lock");
        Lock lockB = new Lock(b, root + "/lock", bytes("b"));
        Lease first = lockA.acquire();
        assertTrue(first.path().startsWith(root + "/lock/_c_") && first.path().contains("-lock-"), first.path());
        assertFalse(first.isLost());
        assertNull(lockB.tryAcquire());
        assertNull(lockB.acquire(100, TimeUnit.MILLISECONDS));
        CompletableFuture<Lease> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return lockB.acquire();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        long deadline = System.nanoTime() + Events.WAIT.toNanos();
        while (lockA.contenders().size() < 2) {
            assertTrue(System.nanoTime() < deadline, "the second contender never queued");
            Thread.sleep(10);
        }
        assertFalse(waiting.isDone());
        first.release();
        Lease second = waiting.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertTrue(second.fencingToken() > first.fencingToken(), "a later holder has a larger token");
        assertTrue(first.isLost());
        second.close();
        lockA.close();
        lockB.close();
    }

    @Test
    void aLeaseIsLostWhenItsSessionEnds() throws Exception {
        ZooKeeper doomed = Servers.connect(server, new Events("doomed"));
        Lease lease = new Lock(doomed, root + "/lost").acquire();
        CompletableFuture<Void> lost = lease.whenLost();
        assertFalse(lost.isDone());
        doomed.close();
        lost.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertTrue(lease.isLost());
        Lease next = new Lock(a, root + "/lost").acquire(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertNotNull(next, "the lock is free once its holder's session ended");
        assertTrue(next.fencingToken() > 0);
        next.release();
    }

    @Test
    void leaderLatchFailsOver() throws Exception {
        BlockingQueue<String> changes = new LinkedBlockingQueue<>();
        LeaderLatch first = LeaderLatch.start(a, root + "/election", "first");
        first.await();
        assertTrue(first.hasLeadership());
        long firstToken = first.fencingToken();
        LeaderLatch second = LeaderLatch.start(b, root + "/election", "second");
        second.addListener(new LeaderLatch.Listener() {
            @Override
            public void isLeader(long token) {
                changes.add("leader " + (token > firstToken) + " on " + Thread.currentThread().getName().startsWith("zk-event-"));
            }

            @Override
            public void notLeader() {
                changes.add("not leader");
            }
        });
        assertFalse(second.await(100, TimeUnit.MILLISECONDS));
        List<LeaderLatch.Participant> participants = second.getParticipants();
        assertEquals(List.of(new LeaderLatch.Participant("first", true), new LeaderLatch.Participant("second", false)), participants);
        first.close();
        assertTrue(second.await(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertTrue(second.fencingToken() > firstToken);
        List<String> seen = new ArrayList<>();
        while (seen.isEmpty() || !seen.get(seen.size() - 1).startsWith("leader")) {
            String change = changes.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(change, "no leadership change reported: " + seen);
            seen.add(change);
        }
        assertEquals("leader true on true", seen.get(seen.size() - 1));
        assertFalse(first.hasLeadership());
        second.close();
    }

    @Test
    void barriers() throws Exception {
        Barrier barrier = new Barrier(a, root + "/barrier");
        barrier.setBarrier();
        Barrier other = new Barrier(b, root + "/barrier");
        assertFalse(other.waitOnBarrier(50, TimeUnit.MILLISECONDS));
        CompletableFuture<Boolean> waiter = CompletableFuture.supplyAsync(() -> {
            try {
                return other.waitOnBarrier(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        barrier.removeBarrier();
        assertTrue(waiter.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));

        DoubleBarrier da = new DoubleBarrier(a, root + "/double", 2);
        DoubleBarrier db = new DoubleBarrier(b, root + "/double", 2, bytes("b"));
        assertFalse(da.enter(50, TimeUnit.MILLISECONDS), "one of two members cannot pass");
        CompletableFuture<Boolean> entered = CompletableFuture.supplyAsync(() -> {
            try {
                return db.enter(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertTrue(entered.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        CompletableFuture<Boolean> left = CompletableFuture.supplyAsync(() -> {
            try {
                return db.leave(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertTrue(da.leave(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertTrue(left.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
    }

    @Test
    void queueIsFifoWithPriorities() throws Exception {
        DistributedQueue producer = new DistributedQueue(a, root + "/queue");
        DistributedQueue consumer = new DistributedQueue(b, root + "/queue");
        assertNull(consumer.poll());
        producer.put(bytes("one"));
        producer.put(bytes("two"));
        producer.put(bytes("urgent"), 1);
        assertEquals(3, consumer.size());
        assertArrayEquals(bytes("urgent"), consumer.take());
        assertArrayEquals(bytes("one"), consumer.take());
        assertArrayEquals(bytes("two"), consumer.poll(1, TimeUnit.SECONDS));
        assertNull(consumer.poll(50, TimeUnit.MILLISECONDS));
        CompletableFuture<byte[]> taker = CompletableFuture.supplyAsync(() -> {
            try {
                return consumer.take();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        producer.put(bytes("late"));
        assertArrayEquals(bytes("late"), taker.get(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS));
        assertThrows(IllegalArgumentException.class, () -> producer.put(bytes("x"), 1000));
    }

    @Test
    void counters() throws Exception {
        Counter text = new Counter(a, root + "/count");
        Counter same = new Counter(b, root + "/count");
        assertEquals(0, text.get());
        assertEquals(5, text.add(5));
        assertEquals(7, same.add(2));
        assertEquals(7, text.set(10));
        assertTrue(same.compareAndSet(10, 11));
        assertFalse(text.compareAndSet(10, 12));
        assertArrayEquals(bytes("11"), a.getData(root + "/count", false, null));
        Counter binary = new Counter(a, root + "/shared", Counter.Format.INT32, 3);
        assertEquals(3, binary.get());
        assertEquals(4, binary.add(1));
        assertArrayEquals(new byte[] {0, 0, 0, 4}, a.getData(root + "/shared", false, null));
        AtomicInteger failures = new AtomicInteger();
        List<Thread> threads = new ArrayList<>();
        for (ZooKeeper zk : List.of(a, b)) {
            Thread t = new Thread(() -> {
                try {
                    Counter c = new Counter(zk, root + "/race");
                    for (int i = 0; i < 25; i++) {
                        c.add(1);
                    }
                } catch (Exception e) {
                    failures.incrementAndGet();
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join(Events.WAIT.toMillis());
        }
        assertEquals(0, failures.get());
        assertEquals(50, new Counter(a, root + "/race").get());
    }

    @Test
    void groupMembership() throws Exception {
        Group one = Group.join(a, root + "/group", "one", bytes("1"));
        Group two = Group.join(b, root + "/group", "two", bytes("2"));
        assertThrows(KeeperException.NodeExistsException.class, () -> Group.join(b, root + "/group", "one", bytes("x")));
        Map<String, byte[]> members = Group.members(a, root + "/group");
        assertEquals(List.of("one", "two"), new ArrayList<>(members.keySet()));
        assertArrayEquals(bytes("2"), members.get("two"));
        two.setData(bytes("22"));
        assertArrayEquals(bytes("22"), Group.members(a, root + "/group").get("two"));
        one.leave();
        assertEquals(List.of("two"), new ArrayList<>(Group.members(b, root + "/group").keySet()));
        b.close();
        assertTrue(Group.members(a, root + "/group").isEmpty(), "a member's session end leaves the group");
        b = Servers.connect(server, new Events("b"));
    }

    @Test
    void treeCacheFollowsTheSubtree() throws Exception {
        String top = root + "/tree";
        a.create(top, bytes("top"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        a.create(top + "/x", bytes("x"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        BlockingQueue<TreeCache.Event> events = new LinkedBlockingQueue<>();
        TreeCache cache = TreeCache.start(b, top, events::add);
        List<String> initial = new ArrayList<>();
        while (true) {
            TreeCache.Event event = events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertNotNull(event, "no INITIALIZED: " + initial);
            if (event.type() == TreeCache.Type.INITIALIZED) {
                break;
            }
            initial.add(event.type() + " " + event.data().getPath().substring(top.length()));
        }
        initial.sort(null);
        assertEquals(List.of("NODE_ADDED ", "NODE_ADDED /x"), initial);
        assertArrayEquals(bytes("x"), cache.get(top + "/x").getData());
        assertEquals(List.of("x"), cache.getChildren(top));
        a.setData(top + "/x", bytes("x2"), -1);
        TreeCache.Event updated = events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(TreeCache.Type.NODE_UPDATED, updated.type());
        assertArrayEquals(bytes("x2"), updated.data().getData());
        a.create(top + "/x/deep", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        assertEquals(TreeCache.Type.NODE_ADDED, events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS).type());
        a.delete(top + "/x/deep", -1);
        TreeCache.Event removed = events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertEquals(TreeCache.Type.NODE_REMOVED, removed.type());
        assertEquals(top + "/x/deep", removed.data().getPath());
        assertEquals(2, cache.snapshot().size());
        cache.close();
        assertEquals(TreeCache.Type.CLOSED, events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS).type());
    }
}
