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
import io.zk.data.Stat;
import io.zk.test.Events;
import io.zk.test.Proxy;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Hadoop's active/standby elector through io.zk.recipes, against a real server. */
@ExtendWith(SharedServer.class)
class ElectorTest {
    private ZkServer server;
    private ZooKeeper zk;
    private String parent;
    private final List<ActiveStandbyElector> electors = new ArrayList<>();

    @BeforeEach
    void open(ZkServer server) throws Exception {
        this.server = server;
        zk = Servers.connect(server, new Events("elector"));
        parent = Servers.root(zk, "hadoop-ha") + "/ns1";
    }

    @AfterEach
    void close() throws Exception {
        for (ActiveStandbyElector elector : electors) {
            elector.close();
        }
        zk.close();
    }

    /** Records every callback as a line ({@code active}, {@code fence nn1}, ...) and the thread it ran on. */
    static final class Recorder implements ActiveStandbyElector.ActiveStandbyElectorCallback {
        final BlockingQueue<String> events = new LinkedBlockingQueue<>();
        final List<String> all = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        final AtomicInteger fenceAttempts = new AtomicInteger();
        volatile int refuseFences;
        volatile Runnable onActive = () -> {};

        private void record(String what) {
            threads.add(Thread.currentThread().getName());
            all.add(what);
            events.add(what);
        }

        @Override
        public void becomeActive() {
            record("active");
            onActive.run();
        }

        @Override
        public void becomeStandby() {
            record("standby");
        }

        @Override
        public void enterNeutralMode() {
            record("neutral");
        }

        @Override
        public void notifyFatalError(String errorMessage) {
            record("fatal " + errorMessage);
        }

        @Override
        public void fenceOldActive(byte[] oldActiveData) {
            String who = ActiveNodeInfo.decode(oldActiveData).namenodeId();
            if (fenceAttempts.incrementAndGet() <= refuseFences) {
                record("fence " + who + " refused");
                throw new IllegalStateException("no fencing method succeeded");
            }
            record("fence " + who);
        }

        /** Waits for {@code expected}, skipping nothing: the next event must be it. */
        void expect(String expected) throws InterruptedException {
            String next = events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertEquals(expected, next, "events so far: " + all);
        }

        void quiet(Duration time) throws InterruptedException {
            String next = events.poll(time.toMillis(), TimeUnit.MILLISECONDS);
            assertNull(next, "unexpected event; all: " + all);
        }
    }

    private static byte[] info(String id) {
        return new ActiveNodeInfo("ns1", id, "127.0.0.1", 8020, 8019).encode();
    }

    private ActiveStandbyElector elector(Recorder recorder) {
        ActiveStandbyElector elector = ActiveStandbyElector.builder(server.connectString(), parent)
            .sessionTimeout(4000)
            .rejoinPause(100, TimeUnit.MILLISECONDS)
            .build(recorder);
        electors.add(elector);
        return elector;
    }

    /** The state is set once the callback has answered, so it is waited for. */
    private static void awaitState(ActiveStandbyElector elector, ActiveStandbyElector.State state) throws Exception {
        waitUntil(() -> elector.getState() == state, () -> elector + " never became " + state);
    }

    /** The parent made, {@code a} joins as nn1 and wins, then {@code b} joins as nn2 and stands by. */
    private static void activeThenStandby(ActiveStandbyElector a, Recorder first, ActiveStandbyElector b,
                                          Recorder second) throws Exception {
        a.ensureParentZNode();
        a.joinElection(info("nn1"));
        first.expect("active");
        b.joinElection(info("nn2"));
        second.expect("standby");
    }

    interface Condition {
        boolean holds() throws Exception;
    }

    /** Waits until {@code condition} holds, failing with {@code what} after the tests' deadline. */
    private static void waitUntil(Condition condition, Supplier<String> what) throws Exception {
        long deadline = System.nanoTime() + Events.WAIT.toNanos();
        while (!condition.holds()) {
            assertTrue(System.nanoTime() < deadline, what);
            Thread.sleep(5);
        }
    }

    interface Call {
        void run() throws Exception;
    }

    /**
     * Calls the elector from one of its callbacks: a refusal (IllegalStateException) goes to
     * {@code refused}, any other failure fails the callback.
     */
    private static void callFromCallback(Call call, List<Throwable> refused) {
        try {
            call.run();
        } catch (IllegalStateException e) {
            refused.add(e);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Calls the elector from one of its callbacks, where any failure fails the callback. */
    private static void callFromCallback(Call call) {
        try {
            call.run();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private byte[] breadcrumb() throws Exception {
        try {
            return zk.getData(parent + "/" + ActiveStandbyElector.BREADCRUMB_FILENAME, false, new Stat());
        } catch (KeeperException.NoNodeException e) {
            return null;
        }
    }

    @Test
    void activeNodeInfoIsHadoopsProtobuf() {
        ActiveNodeInfo info = new ActiveNodeInfo("ns1", "nn1", "h", 8020, 8019);
        // protobuf-java's bytes: fields 1-3 length-delimited, 4 and 5 varints.
        assertEquals("0a036e7331" + "12036e6e31" + "1a0168" + "20d43e" + "28d33e",
            HexFormat.of().formatHex(info.encode()));
        assertEquals(info, ActiveNodeInfo.decode(info.encode()));
        assertEquals("ns1/nn1 at h:8020", info.toString());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
            () -> ActiveNodeInfo.decode(new byte[] {0x0a, 0x03, 'n'}));
        assertTrue(bad.getMessage().contains("ActiveNodeInfo"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ActiveNodeInfo.decode(new byte[] {0x20, 0x01}));
    }

    @Test
    void winnerIsActiveLoserStandbyGracefulQuitNeedsNoFencing() throws Exception {
        Recorder first = new Recorder();
        Recorder second = new Recorder();
        ActiveStandbyElector a = elector(first);
        ActiveStandbyElector b = elector(second);
        assertFalse(a.parentZNodeExists());
        a.ensureParentZNode();
        assertTrue(b.parentZNodeExists());
        assertEquals(ActiveStandbyElector.State.INIT, a.getState());
        assertNull(a.getActiveData(), "nobody is active yet");

        a.joinElection(info("nn1"));
        first.expect("active");
        awaitState(a, ActiveStandbyElector.State.ACTIVE);
        assertTrue(a.getSessionId() != 0);
        b.joinElection(info("nn2"));
        second.expect("standby");
        awaitState(b, ActiveStandbyElector.State.STANDBY);
        assertArrayEquals(info("nn1"), b.getActiveData());
        assertArrayEquals(info("nn1"), breadcrumb());
        assertTrue(first.threads.stream().allMatch(t -> t.startsWith("zk-elector-")), first.threads.toString());

        // A graceful quit deletes the breadcrumb: the standby takes over without fencing.
        a.quitElection(false);
        assertEquals(ActiveStandbyElector.State.INIT, a.getState());
        second.expect("active");
        assertEquals(List.of("standby", "active"), second.all);
        assertArrayEquals(info("nn2"), breadcrumb());
    }

    @Test
    void crashedActivesBreadcrumbIsFencedFirstAndRefusalBlocksTheTakeover() throws Exception {
        zk.create(parent, new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        // What an active that crashed leaves: its breadcrumb, and no lock (its session expired).
        zk.create(parent + "/" + ActiveStandbyElector.BREADCRUMB_FILENAME, info("nn-old"), Ids.OPEN_ACL_UNSAFE,
            CreateMode.PERSISTENT);
        Recorder recorder = new Recorder();
        recorder.refuseFences = 1;
        ActiveStandbyElector a = elector(recorder);
        a.joinElection(info("nn1"));
        recorder.expect("fence nn-old refused");
        // The refusal released the lock; after the rejoin pause the elector tries again.
        recorder.expect("fence nn-old");
        recorder.expect("active");
        assertArrayEquals(info("nn1"), breadcrumb());

        // quitElection(true): the breadcrumb stays, so the next active fences this one.
        a.quitElection(true);
        assertArrayEquals(info("nn1"), breadcrumb());
        Recorder next = new Recorder();
        elector(next).joinElection(info("nn2"));
        next.expect("fence nn1");
        next.expect("active");
        assertArrayEquals(info("nn2"), breadcrumb());
    }

    @Test
    void cedeHandsOverAndRejoins() throws Exception {
        Recorder first = new Recorder();
        Recorder second = new Recorder();
        ActiveStandbyElector a = elector(first);
        ActiveStandbyElector b = elector(second);
        activeThenStandby(a, first, b, second);

        a.cede(1, TimeUnit.SECONDS);
        first.expect("standby");
        // The service confirmed it is standby: the breadcrumb went, nobody needs fencing.
        second.expect("active");
        assertEquals(List.of("standby", "active"), second.all);
        // After the cede a is back in the election, as standby.
        first.expect("standby");
        awaitState(a, ActiveStandbyElector.State.STANDBY);
        assertArrayEquals(info("nn2"), a.getActiveData());
    }

    @Test
    void anActiveCutOffGoesNeutralAndIsFencedOnceItsSessionExpires() throws Exception {
        try (Proxy proxy = new Proxy(server.port())) {
            Recorder first = new Recorder();
            Recorder second = new Recorder();
            // 4 s: the shortest session the servers grant (2 x tickTime).
            ActiveStandbyElector a = ActiveStandbyElector.builder(proxy.connectString(), parent).sessionTimeout(4000)
                .rejoinPause(100, TimeUnit.MILLISECONDS).connectPause(1, TimeUnit.SECONDS).build(first);
            electors.add(a);
            ActiveStandbyElector b = elector(second);
            activeThenStandby(a, first, b, second);

            proxy.stop();
            first.expect("neutral");
            // The server expires a's session: its lock goes, its breadcrumb stays.
            second.expect("fence nn1");
            second.expect("active");
            proxy.start();
            // a finds its session gone, opens a new one and joins again: standby now.
            String next;
            do {
                next = first.events.poll(Events.WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertTrue(next != null && !next.startsWith("active") && !next.startsWith("fatal"), first.all.toString());
            } while (!next.equals("standby"));
            awaitState(a, ActiveStandbyElector.State.STANDBY);
            assertArrayEquals(info("nn2"), a.getActiveData());
        }
    }

    @Test
    void formatClearsOnlyWhenForced() throws Exception {
        ActiveStandbyElector a = elector(new Recorder());
        assertTrue(a.formatZK(false), "a missing parent is created");
        assertTrue(a.parentZNodeExists());
        zk.create(parent + "/" + ActiveStandbyElector.BREADCRUMB_FILENAME, info("nn-old"), Ids.OPEN_ACL_UNSAFE,
            CreateMode.PERSISTENT);
        assertFalse(a.formatZK(false), "an existing parent is kept without force");
        assertNotNull(breadcrumb());
        assertTrue(a.formatZK(true));
        assertNull(breadcrumb());
        assertTrue(a.parentZNodeExists());
        a.clearParentZNode();
        assertFalse(a.parentZNodeExists());
    }

    @Test
    void callbacksMayQuitAndCloseButNotWait() throws Exception {
        Recorder recorder = new Recorder();
        ActiveStandbyElector a = elector(recorder);
        a.ensureParentZNode();
        List<Throwable> refused = new CopyOnWriteArrayList<>();
        List<String> done = new CopyOnWriteArrayList<>();
        recorder.onActive = () -> {
            callFromCallback(a::ensureParentZNode, refused);
            a.close(); // returns at once; takes effect after this callback
            done.add("closed");
        };
        a.joinElection(info("nn1"));
        recorder.expect("active");
        waitUntil(() -> !done.isEmpty(), () -> "close from the callback did not return");
        assertEquals(1, refused.size(), "a waiting call from a callback is refused");
        assertTrue(refused.get(0).getMessage().contains("callbacks"), refused.get(0).getMessage());
        IllegalStateException closed = assertThrows(IllegalStateException.class, a::parentZNodeExists);
        assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        assertEquals(ActiveStandbyElector.State.INIT, a.getState());

        // The close queued by the callback ends the session: the lock goes.
        String lock = parent + "/" + ActiveStandbyElector.LOCK_FILENAME;
        waitUntil(() -> zk.exists(lock, false) == null, () -> "the close from the callback never released the lock");
        // Closing kept the breadcrumb (as quitElection(true)): the next active fences nn1.
        Recorder next = new Recorder();
        elector(next).joinElection(info("nn2"));
        next.expect("fence nn1");
        next.expect("active");
        recorder.quiet(Duration.ofMillis(300));
    }

    @Test
    void aCallbackQuittingTakesEffectAfterIt() throws Exception {
        Recorder recorder = new Recorder();
        ActiveStandbyElector a = elector(recorder);
        a.ensureParentZNode();
        recorder.onActive = () -> callFromCallback(() -> a.quitElection(false));
        a.joinElection(info("nn1"));
        recorder.expect("active");
        waitUntil(() -> a.getState() == ActiveStandbyElector.State.INIT && breadcrumb() == null,
            () -> "the quit queued by the callback never ran: " + a.getState());
    }

    @Test
    void callbacksRunOnTheGivenExecutorAndMayCloseFromThere() throws Exception {
        ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "app-callbacks"));
        try {
            Recorder recorder = new Recorder();
            ActiveStandbyElector a = ActiveStandbyElector.builder(server.connectString(), parent).sessionTimeout(4000)
                .executor(executor).build(recorder);
            electors.add(a);
            a.ensureParentZNode();
            List<Throwable> refused = new CopyOnWriteArrayList<>();
            List<String> done = new CopyOnWriteArrayList<>();
            recorder.onActive = () -> {
                callFromCallback(a::getActiveData, refused);
                callFromCallback(() -> a.quitElection(false)); // queued: runs after this callback
                a.close();
                done.add("closed");
            };
            a.joinElection(info("nn1"));
            recorder.expect("active");
            waitUntil(() -> !done.isEmpty(), () -> "close from the executor's callback did not return");
            assertEquals(List.of("app-callbacks"), recorder.threads);
            assertEquals(1, refused.size(), "a waiting call from a callback is refused");
            // The graceful quit queued by the callback ran before the close: no breadcrumb, no lock.
            String lock = parent + "/" + ActiveStandbyElector.LOCK_FILENAME;
            waitUntil(() -> zk.exists(lock, false) == null && breadcrumb() == null,
                () -> "the queued quit and close never ran");
            Recorder next = new Recorder();
            elector(next).joinElection(info("nn2"));
            next.expect("active");
            assertEquals(List.of("active"), next.all);
        } finally {
            executor.shutdownNow();
        }
    }

    @Test
    void badSettingsAreRefused() {
        Recorder recorder = new Recorder();
        assertThrows(IllegalArgumentException.class,
            () -> ActiveStandbyElector.builder(server.connectString(), "relative").build(recorder));
        assertThrows(IllegalArgumentException.class,
            () -> ActiveStandbyElector.builder(server.connectString(), "/").build(recorder));
        assertThrows(IllegalArgumentException.class,
            () -> ActiveStandbyElector.builder("", parent).build(recorder));
        assertThrows(IllegalArgumentException.class,
            () -> ActiveStandbyElector.builder(server.connectString(), parent).maxRetries(0).build(recorder));
        assertEquals("/hadoop-ha/ns1", ActiveStandbyElector.parentZnode("/hadoop-ha/", "ns1"));
        ActiveStandbyElector a = new ActiveStandbyElector(server.connectString(), 5000, parent, Ids.OPEN_ACL_UNSAFE,
            recorder);
        a.close();
        a.close();
        assertThrows(IllegalStateException.class, () -> a.joinElection(info("nn1")));
    }
}
