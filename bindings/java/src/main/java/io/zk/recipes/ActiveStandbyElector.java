package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.client.SaslOptions;
import io.zk.client.TlsOptions;
import io.zk.data.ACL;
import io.zk.internal.ClientProperties;
import io.zk.internal.Log;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Hadoop's {@code ActiveStandbyElector} (the election inside HDFS's ZKFC), on Hadoop's znode
 * layout and behaviour, from the core ({@code zk_core::recipes::elector}; see docs/ha.md).
 *
 * <p>Under the parent znode ({@code /hadoop-ha/<nameservice>} for ZKFC): {@value #LOCK_FILENAME}
 * (ephemeral, the active's data) and {@value #BREADCRUMB_FILENAME} (persistent, the last
 * active's data). The winner reads the breadcrumb, has its owner fenced
 * ({@link ActiveStandbyElectorCallback#fenceOldActive}) unless it is itself, writes its own data
 * there, and only then is told to {@link ActiveStandbyElectorCallback#becomeActive become active}.
 *
 * <p>The elector owns its ZooKeeper sessions: it opens one when first needed and a new one after
 * an expiry or a failure to become active. Its callbacks run on its own event thread
 * ({@code zk-elector-N}, a daemon thread that exists only while there are callbacks to run), or
 * on the application's executor ({@link Builder#executor}), one at a time, in order, never on
 * the client's IO threads; the elector waits for {@code becomeActive} and {@code fenceOldActive}
 * to return, as Hadoop's does.
 *
 * <p>From inside a callback, {@link #joinElection}, {@link #quitElection}, {@link #cede} and
 * {@link #close} may be called: they take effect once the callback has returned. The calls that
 * wait for an answer ({@link #ensureParentZNode}, {@link #clearParentZNode},
 * {@link #parentZNodeExists}, {@link #formatZK}, {@link #getActiveData}) throw
 * {@link IllegalStateException} there, since the elector may be waiting for that very callback.
 *
 * <p>An elector runs until {@link #close}d (it is not collected while it runs, like a thread).
 */
public final class ActiveStandbyElector implements AutoCloseable {
    /** Hadoop's default root of the parent znodes ({@code ha.zookeeper.parent-znode}). */
    public static final String DEFAULT_ROOT = "/hadoop-ha";
    public static final String LOCK_FILENAME = "ActiveStandbyElectorLock";
    public static final String BREADCRUMB_FILENAME = "ActiveBreadCrumb";
    /** Hadoop's {@code ha.failover-controller.active-standby-elector.zk.op.retries}. */
    public static final int DEFAULT_MAX_RETRIES = 3;

    /** Hadoop's {@code ActiveStandbyElectorCallback}: what the elector asks of the application. */
    public interface ActiveStandbyElectorCallback {
        /**
         * This instance holds the lock, the old active is fenced and the breadcrumb is ours:
         * make the service active. Throwing (e.g. {@link ServiceFailedException}) releases the
         * lock; the elector joins again after a pause.
         */
        void becomeActive() throws ServiceFailedException;

        /**
         * Another instance is active: make the service standby. Throwing matters only during a
         * {@link #cede}: the breadcrumb is then kept, so the next active fences this one.
         */
        void becomeStandby();

        /**
         * The connection is lost: who is active is unknown. An active should stop acting as
         * one unless it knows its session is alive.
         */
        void enterNeutralMode();

        /** The elector gave up (retries exhausted, no session, unexpected errors) and left the election. */
        void notifyFatalError(String errorMessage);

        /**
         * The breadcrumb names another instance ({@code oldActiveData}, an
         * {@link ActiveNodeInfo} from HDFS controllers), which may still act as active: fence it.
         * Return only once it can no longer act; throwing (as Hadoop's ZKFC does when no fencing
         * method succeeded) stops this takeover.
         */
        void fenceOldActive(byte[] oldActiveData);
    }

    /** Where the elector stands (Hadoop's {@code State}). */
    public enum State {
        INIT, ACTIVE, STANDBY, NEUTRAL
    }

    /** The elector whose callback the current thread is running, if any. */
    private static final ThreadLocal<ActiveStandbyElector> RUNNING = new ThreadLocal<>();

    private final long id;
    private final long token;
    private final Executor executor;
    private final String parent;
    private final ActiveStandbyElectorCallback app;
    private volatile boolean closed;

    /**
     * Hadoop's constructor: an elector for {@code parentZnodeName} (e.g. {@code /hadoop-ha/ns1})
     * on the ensemble {@code zookeeperHostPorts}; {@code acl} for every node it creates (null:
     * open). Nothing is sent before the first call that needs a session.
     */
    public ActiveStandbyElector(String zookeeperHostPorts, int zookeeperSessionTimeout, String parentZnodeName,
                                List<ACL> acl, ActiveStandbyElectorCallback app) {
        this(builder(zookeeperHostPorts, parentZnodeName).sessionTimeout(zookeeperSessionTimeout).acl(acl), app);
    }

    private ActiveStandbyElector(Builder b, ActiveStandbyElectorCallback app) {
        this.app = Objects.requireNonNull(app, "app");
        this.parent = b.parent;
        this.executor = b.executor;
        int[] perms = null;
        String[] schemes = null;
        String[] ids = null;
        if (b.acl != null) {
            int n = b.acl.size();
            perms = new int[n];
            schemes = new String[n];
            ids = new String[n];
            for (int i = 0; i < n; i++) {
                ACL entry = b.acl.get(i);
                perms[i] = entry.getPerms();
                schemes[i] = entry.getId() == null ? null : entry.getId().getScheme();
                ids[i] = entry.getId() == null ? null : entry.getId().getId();
            }
        }
        token = ElectorUpcalls.register(this);
        try {
            id = ElectorNative.open(b.hosts, b.parent, b.sessionTimeoutMs, perms, schemes, ids, b.authScheme, b.auth,
                b.maxRetries, b.rejoinPauseMs, b.connectPauseMs, token,
                b.tls == null ? null : b.tls.caFile(), b.tls == null ? null : b.tls.certFile(),
                b.tls == null ? null : b.tls.keyFile(), b.tls == null || b.tls.verifyHostname(),
                b.sasl == null ? null : b.sasl.username(), b.sasl == null ? null : b.sasl.password(),
                ClientProperties.flatten(b.clientProperties));
        } catch (KeeperException e) {
            ElectorUpcalls.unregister(token);
            throw new IllegalArgumentException("cannot create the elector: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            ElectorUpcalls.unregister(token);
            throw e;
        }
    }

    /** A builder with every setting (credentials, retries, pauses). */
    public static Builder builder(String zookeeperHostPorts, String parentZnodeName) {
        return new Builder(zookeeperHostPorts, parentZnodeName);
    }

    /** The parent znode of a nameservice: {@code <root>/<nameservice>} (Hadoop's {@code getParentZnode}). */
    public static String parentZnode(String root, String nameservice) {
        String trimmed = root;
        while (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return trimmed + "/" + nameservice;
    }

    /**
     * Joins the election with {@code data} (stored in the lock and, once active, in the
     * breadcrumb); returns at once, the outcome comes through the callbacks. Already in the
     * election: nothing changes.
     */
    public void joinElection(byte[] data) {
        Objects.requireNonNull(data, "data");
        try {
            ElectorNative.join(id, data);
        } catch (KeeperException e) {
            throw new IllegalStateException("cannot join the election: " + e.getMessage(), e);
        }
    }

    /**
     * Leaves the election, releasing the lock. An active leaving with {@code needFence} false
     * first deletes its breadcrumb (its service has stopped acting as active); with true the
     * breadcrumb stays and the next active fences this instance. Returns once done (from a
     * callback: at once, done after it).
     */
    public void quitElection(boolean needFence) throws KeeperException, InterruptedException {
        checkInterrupt();
        ElectorNative.quit(id, needFence, inCallback());
    }

    /**
     * A graceful handover (ZKFC's {@code cedeActive}): an active is told to become standby, then
     * quits (deleting its breadcrumb if {@code becomeStandby} returned normally) and stays out of
     * the election for {@code time}, then joins again with its last data; a standby just stays
     * out. A zero time ends a running cede at once. Waits like {@link #quitElection}.
     */
    public void cede(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        checkInterrupt();
        ElectorNative.cede(id, Math.max(0, unit.toMillis(time)), inCallback());
    }

    /** Creates the parent znode and its ancestors (with the configured ACL). Not while in the election. */
    public void ensureParentZNode() throws KeeperException, InterruptedException {
        checkInterrupt();
        ElectorNative.ensureParent(id, inCallback());
    }

    /** Deletes the parent znode and everything below it. Not while in the election. */
    public void clearParentZNode() throws KeeperException, InterruptedException {
        checkInterrupt();
        ElectorNative.clearParent(id, inCallback());
    }

    public boolean parentZNodeExists() throws KeeperException, InterruptedException {
        checkInterrupt();
        return ElectorNative.parentExists(id, inCallback());
    }

    /**
     * {@code hdfs zkfc -formatZK}: an existing parent znode is cleared only with {@code force}
     * (false, changing nothing, without it: ask the user, then call again with force); then the
     * parent is created. True when the parent is fresh now.
     */
    public boolean formatZK(boolean force) throws KeeperException, InterruptedException {
        checkInterrupt();
        return ElectorNative.format(id, force, inCallback());
    }

    /** The data in the lock, i.e. the active's; null when nobody is active. */
    public byte[] getActiveData() throws KeeperException, InterruptedException {
        checkInterrupt();
        return ElectorNative.activeData(id, inCallback());
    }

    public State getState() {
        return State.values()[ElectorNative.state(id)];
    }

    /** The id of the elector's current session (0 while it has none). */
    public long getSessionId() {
        return ElectorNative.sessionId(id);
    }

    public String getParentZNode() {
        return parent;
    }

    /**
     * Ends the elector: closes its session (the lock goes, the breadcrumb stays, as
     * {@code quitElection(true)}; quit with false first to leave gracefully). When it returns no
     * callback runs and none will (from a callback: it returns at once, and no other callback
     * follows). Later calls throw {@link IllegalStateException}; closing again does nothing.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        ElectorNative.close(id, inCallback());
        ElectorUpcalls.unregister(token);
    }

    @Override
    public String toString() {
        return "ActiveStandbyElector(" + parent + ", " + (closed ? "closed" : getState()) + ")";
    }

    private boolean inCallback() {
        return RUNNING.get() == this;
    }

    private static void checkInterrupt() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }

    /**
     * One callback, called on the elector's event thread: run there, or handed to the executor
     * and waited for. True when it returned normally.
     */
    boolean callback(int what, byte[] data, String message) {
        if (closed) {
            return false;
        }
        if (executor == null) {
            return run(what, data, message);
        }
        CompletableFuture<Boolean> answer = new CompletableFuture<>();
        try {
            executor.execute(() -> answer.complete(run(what, data, message)));
        } catch (RejectedExecutionException e) {
            Log.error("the executor given to the elector refused a callback (" + name(what) + "): answered as failed", e);
            return false;
        }
        try {
            return answer.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } catch (ExecutionException e) {
            return false;
        }
    }

    private boolean run(int what, byte[] data, String message) {
        if (closed) {
            return false;
        }
        RUNNING.set(this);
        try {
            switch (what) {
                case ElectorUpcalls.BECOME_ACTIVE -> app.becomeActive();
                case ElectorUpcalls.BECOME_STANDBY -> app.becomeStandby();
                case ElectorUpcalls.ENTER_NEUTRAL -> app.enterNeutralMode();
                case ElectorUpcalls.FENCE_OLD_ACTIVE -> app.fenceOldActive(data);
                case ElectorUpcalls.FATAL_ERROR -> app.notifyFatalError(message);
                default -> {
                    return false;
                }
            }
            return true;
        } catch (ServiceFailedException e) {
            Log.warn("the service could not become active (" + parent + "): " + e.getMessage());
            return false;
        } catch (RuntimeException e) {
            if (what == ElectorUpcalls.FENCE_OLD_ACTIVE) {
                // Hadoop's way of saying "not fenced": ZKFC throws when no fencing method succeeded.
                Log.warn("the old active was not fenced (" + parent + "): " + e);
            } else {
                Log.error("an elector callback failed (" + parent + ", " + name(what) + ")", e);
            }
            return false;
        } catch (Throwable t) {
            Log.error("an elector callback failed (" + parent + ", " + name(what) + ")", t);
            return false;
        } finally {
            RUNNING.remove();
        }
    }

    private static String name(int what) {
        return switch (what) {
            case ElectorUpcalls.BECOME_ACTIVE -> "becomeActive";
            case ElectorUpcalls.BECOME_STANDBY -> "becomeStandby";
            case ElectorUpcalls.ENTER_NEUTRAL -> "enterNeutralMode";
            case ElectorUpcalls.FENCE_OLD_ACTIVE -> "fenceOldActive";
            default -> "notifyFatalError";
        };
    }

    /** Settings beyond Hadoop's constructor; {@link #build} starts nothing on the network. */
    public static final class Builder {
        private final String hosts;
        private final String parent;
        private int sessionTimeoutMs = 10_000;
        private List<ACL> acl;
        private String authScheme;
        private byte[] auth;
        private int maxRetries = DEFAULT_MAX_RETRIES;
        private long rejoinPauseMs = 1000;
        private long connectPauseMs = 5000;
        private Executor executor;
        private TlsOptions tls;
        private SaslOptions sasl;
        private Map<String, String> clientProperties;

        private Builder(String hosts, String parent) {
            this.hosts = Objects.requireNonNull(hosts, "zookeeperHostPorts");
            this.parent = Objects.requireNonNull(parent, "parentZnodeName");
        }

        /** Session timeout, default 10000 ms ({@code ha.zookeeper.session-timeout.ms}). */
        public Builder sessionTimeout(int millis) {
            sessionTimeoutMs = millis;
            return this;
        }

        /** The ACL of every node the elector creates ({@code ha.zookeeper.acl}); null: open. */
        public Builder acl(List<ACL> acl) {
            this.acl = acl;
            return this;
        }

        /** Credentials sent on every session ({@code ha.zookeeper.auth}), e.g. digest {@code user:password}. */
        public Builder auth(String scheme, byte[] auth) {
            this.authScheme = Objects.requireNonNull(scheme, "scheme");
            this.auth = Objects.requireNonNull(auth, "auth").clone();
            return this;
        }

        public Builder auth(String scheme, String auth) {
            return auth(scheme, auth.getBytes(StandardCharsets.UTF_8));
        }

        /**
         * SASL DIGEST-MD5 credentials for the elector's sessions (else the JAAS {@code Client}
         * section of {@code -Djava.security.auth.login.config}, as for a {@code ZooKeeper}).
         */
        public Builder sasl(SaslOptions sasl) {
            this.sasl = sasl;
            return this;
        }

        /** Apache's client properties for the elector's sessions (see {@code ZooKeeperBuilder.withClientProperties}). */
        public Builder clientProperties(Map<String, String> properties) {
            this.clientProperties = properties == null ? null : new LinkedHashMap<>(properties);
            return this;
        }

        /** TLS for every session (the hosts name the servers' {@code secureClientPort}s). */
        public Builder tls(TlsOptions tls) {
            this.tls = tls;
            return this;
        }

        /** Attempts of an operation failing with a connection loss or timeout, default 3. */
        public Builder maxRetries(int attempts) {
            maxRetries = attempts;
            return this;
        }

        /** Pause after failing to become active before joining again, default 1 s. */
        public Builder rejoinPause(long time, TimeUnit unit) {
            rejoinPauseMs = unit.toMillis(time);
            return this;
        }

        /** Pause between failed attempts to open a session, default 5 s. */
        public Builder connectPause(long time, TimeUnit unit) {
            connectPauseMs = unit.toMillis(time);
            return this;
        }

        /**
         * Run the callbacks on {@code executor} instead of the elector's event thread; still one at
         * a time and in order (the elector waits for each). Do not block the executor on the
         * elector (e.g. a blocking {@code quitElection} from another of its tasks): the elector may
         * be waiting for a callback queued behind it.
         */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /** The elector; bad settings throw {@link IllegalArgumentException}. */
        public ActiveStandbyElector build(ActiveStandbyElectorCallback app) {
            return new ActiveStandbyElector(this, app);
        }
    }
}
