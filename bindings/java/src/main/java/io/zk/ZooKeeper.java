package io.zk;

import io.zk.AsyncCallback.ACLCallback;
import io.zk.AsyncCallback.AllChildrenNumberCallback;
import io.zk.AsyncCallback.Children2Callback;
import io.zk.AsyncCallback.ChildrenCallback;
import io.zk.AsyncCallback.Create2Callback;
import io.zk.AsyncCallback.DataCallback;
import io.zk.AsyncCallback.EphemeralsCallback;
import io.zk.AsyncCallback.MultiCallback;
import io.zk.AsyncCallback.StatCallback;
import io.zk.AsyncCallback.StringCallback;
import io.zk.AsyncCallback.VoidCallback;
import io.zk.Watcher.WatcherType;
import io.zk.client.SaslOptions;
import io.zk.client.TlsOptions;
import io.zk.client.ZooKeeperBuilder;
import io.zk.data.ACL;
import io.zk.data.ClientInfo;
import io.zk.data.Id;
import io.zk.data.Stat;
import io.zk.internal.Bridge;
import io.zk.internal.ClientProperties;
import java.lang.ref.Cleaner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A ZooKeeper client with the API of Apache's {@code org.apache.zookeeper.ZooKeeper}: a program
 * written against Apache's client compiles against this one with its imports changed from
 * {@code org.apache.zookeeper} to {@code io.zk}. Every call goes to the shared Rust client core.
 *
 * <p>Session establishment is asynchronous: the constructor returns at once and the watcher hears
 * {@code SyncConnected} (possibly before the constructor returns). Watchers and callbacks run on
 * one event thread per client (started when there is something to run, let go when idle), one at
 * a time, in the order the server sent the events and replies; or, with
 * {@link ZooKeeperBuilder#withExecutor}, on the given executor in that same order. A callback may
 * call the client, block on it, or close it.
 *
 * <p>{@link #close()} ends the session; a client that became unreachable without being closed is
 * closed by a {@link Cleaner}. Calls on a closed client fail with {@code SESSIONEXPIRED}, as with
 * Apache's client.
 *
 * <p>Beyond Apache's API: {@code CompletableFuture} variants of every operation
 * ({@link #createAsync}, {@link #getDataAsync}, ...), {@link #sync(String)} (3.9's), and
 * {@link #builder}.
 */
public class ZooKeeper implements AutoCloseable {

    /** The client's state, with Apache's names. */
    public enum States {
        CONNECTING,
        ASSOCIATING,
        CONNECTED,
        CONNECTEDREADONLY,
        CLOSED,
        AUTH_FAILED,
        NOT_CONNECTED;

        public boolean isAlive() {
            return this != CLOSED && this != AUTH_FAILED;
        }

        public boolean isConnected() {
            return this == CONNECTED || this == CONNECTEDREADONLY;
        }
    }

    private static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicLong NEXT_HANDLE = new AtomicLong(1);
    /** Callbacks running longer than this are reported in the log ({@code -Dio.zk.slowCallbackMillis}). */
    public static final long DEFAULT_SLOW_CALLBACK_MILLIS = Long.getLong("io.zk.slowCallbackMillis", 1000L);

    static {
        Bridge.setHandles(zk -> zk.handle);
    }

    private final long handle;
    private final ClientEvents events;
    private final Cleaner.Cleanable cleanable;
    private volatile boolean closed;
    private volatile long lastSessionId;

    /**
     * The action that closes a client nobody closed; holds no reference to the client. After an
     * explicit {@link #close()} it does nothing: the handle is gone, and the events stay
     * registered until the final state change has been delivered.
     */
    private static final class Release implements Runnable {
        private final long handle;
        private volatile boolean closed;

        Release(long handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            if (!closed) {
                Native.release(handle);
                Upcalls.unregister(handle);
            }
        }
    }

    private final Release release;

    public ZooKeeper(String connectString, int sessionTimeout, Watcher watcher) {
        this(connectString, sessionTimeout, watcher, false);
    }

    public ZooKeeper(String connectString, int sessionTimeout, Watcher watcher, boolean canBeReadOnly) {
        this(connectString, sessionTimeout, watcher, 0, null, canBeReadOnly);
    }

    /** Resumes session {@code sessionId} (from {@link #getSessionId()} and {@link #getSessionPasswd()}). */
    public ZooKeeper(String connectString, int sessionTimeout, Watcher watcher, long sessionId, byte[] sessionPasswd) {
        this(connectString, sessionTimeout, watcher, sessionId, sessionPasswd, false);
    }

    public ZooKeeper(String connectString, int sessionTimeout, Watcher watcher, long sessionId, byte[] sessionPasswd,
                     boolean canBeReadOnly) {
        this(connectString, sessionTimeout, watcher, sessionId, sessionPasswd, canBeReadOnly, null,
            DEFAULT_SLOW_CALLBACK_MILLIS, null, null, null);
    }

    /** A client with every option of {@code builder} (see {@link #builder}). */
    public ZooKeeper(ZooKeeperBuilder builder) {
        this(builder.connectString(), builder.sessionTimeoutMillis(), builder.defaultWatcher(), builder.sessionId(),
            builder.sessionPasswd(), builder.canBeReadOnly(), builder.executor(), builder.slowCallbackMillis(),
            builder.tls(), builder.sasl(), builder.clientProperties());
    }

    private ZooKeeper(String connectString, int sessionTimeout, Watcher watcher, long sessionId, byte[] sessionPasswd,
                      boolean canBeReadOnly, Executor executor, long slowCallbackMillis, TlsOptions tls,
                      SaslOptions sasl, Map<String, String> clientProperties) {
        if (connectString == null) {
            throw new IllegalArgumentException("connectString must not be null");
        }
        handle = NEXT_HANDLE.getAndIncrement();
        events = new ClientEvents(handle, watcher, executor, slowCallbackMillis);
        Upcalls.register(handle, events);
        try {
            Native.open(handle, connectString, sessionTimeout, canBeReadOnly, sessionId,
                sessionPasswd == null ? new byte[0] : sessionPasswd, slowCallbackMillis,
                tls == null ? null : tls.caFile(), tls == null ? null : tls.certFile(),
                tls == null ? null : tls.keyFile(), tls == null || tls.verifyHostname(),
                sasl == null ? null : sasl.username(), sasl == null ? null : sasl.password(),
                ClientProperties.flatten(clientProperties));
        } catch (RuntimeException e) {
            Upcalls.unregister(handle);
            throw e;
        }
        release = new Release(handle);
        cleanable = CLEANER.register(this, release);
    }

    /** A builder with every option (executor, slow-callback threshold, read-only, session). */
    public static ZooKeeperBuilder builder(String connectString, Duration sessionTimeout) {
        return new ZooKeeperBuilder(connectString, sessionTimeout);
    }

    // ----- session

    /** The session id (0 until the first connect). */
    public long getSessionId() {
        if (closed) {
            return lastSessionId;
        }
        long id = Native.sessionId(handle);
        if (id != 0) {
            lastSessionId = id;
        }
        return id == 0 ? lastSessionId : id;
    }

    public byte[] getSessionPasswd() {
        byte[] passwd = closed ? null : Native.sessionPasswd(handle);
        return passwd == null ? new byte[16] : passwd;
    }

    /** The negotiated session timeout in milliseconds (0 until the first connect). */
    public int getSessionTimeout() {
        return closed ? 0 : Native.sessionTimeout(handle);
    }

    /** Adds credentials to the session (sent again after every reconnect); later requests follow them. */
    public void addAuthInfo(String scheme, byte[] auth) {
        if (!closed) {
            Native.addAuth(handle, scheme, auth);
        }
    }

    /** Replaces the default watcher (the one {@code boolean watch} calls and state changes use). */
    public synchronized void register(Watcher watcher) {
        events.setDefaultWatcher(watcher);
    }

    public States getState() {
        if (closed) {
            return States.CLOSED;
        }
        switch (Native.state(handle)) {
            case Native.STATE_CONNECTED:
                return States.CONNECTED;
            case Native.STATE_CONNECTED_READ_ONLY:
                return States.CONNECTEDREADONLY;
            case Native.STATE_CONNECTING:
            case Native.STATE_SUSPENDED:
                return States.CONNECTING;
            case Native.STATE_AUTH_FAILED:
                return States.AUTH_FAILED;
            default:
                return States.CLOSED;
        }
    }

    /**
     * Closes the session: the server deletes its ephemeral nodes at once, pending operations fail,
     * and watchers hear {@code Closed}. Safe to call from a callback, and more than once.
     */
    @Override
    public synchronized void close() throws InterruptedException {
        if (closed) {
            return;
        }
        getSessionId();
        closed = true;
        release.closed = true;
        try {
            Native.close(handle);
        } finally {
            cleanable.clean();
        }
    }

    /** Closes, as {@link #close()}; true (the event thread is not waited for). */
    public boolean close(int waitForShutdownTimeoutMs) throws InterruptedException {
        close();
        return true;
    }

    /** The identities the server associates with this session. */
    public List<ClientInfo> whoAmI() throws InterruptedException {
        try {
            return clientInfos(call(Native.WHO_AM_I, "/", 0, null, -1, 0, -1, null, null));
        } catch (KeeperException e) {
            throw new IllegalStateException("whoAmI failed: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "State:" + getState() + " Timeout:" + getSessionTimeout() + " sessionid:0x"
            + Long.toHexString(getSessionId());
    }

    // ----- create

    public String create(final String path, byte[] data, List<ACL> acl, CreateMode createMode)
        throws KeeperException, InterruptedException {
        return create(path, data, acl, createMode, null, -1);
    }

    public String create(final String path, byte[] data, List<ACL> acl, CreateMode createMode, Stat stat)
        throws KeeperException, InterruptedException {
        return create(path, data, acl, createMode, stat, -1);
    }

    /** A create in any mode; TTL modes take {@code ttl} milliseconds (others -1). */
    public String create(final String path, byte[] data, List<ACL> acl, CreateMode createMode, Stat stat, long ttl)
        throws KeeperException, InterruptedException {
        checkMode(createMode, ttl);
        checkAcl(acl);
        long[] s = new long[STAT_FIELDS];
        String created = (String) call(Native.CREATE, path, 0, data, -1, createMode.toFlag(), ttl, acl, s);
        copy(s, stat);
        return created;
    }

    public void create(final String path, byte[] data, List<ACL> acl, CreateMode createMode, StringCallback cb,
                       Object ctx) {
        checkMode(createMode, -1);
        submit(Native.CREATE, path, 0, data, -1, createMode.toFlag(), -1, acl,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? (String) value : null));
    }

    public void create(final String path, byte[] data, List<ACL> acl, CreateMode createMode, Create2Callback cb,
                       Object ctx) {
        create(path, data, acl, createMode, cb, ctx, -1);
    }

    public void create(final String path, byte[] data, List<ACL> acl, CreateMode createMode, Create2Callback cb,
                       Object ctx, long ttl) {
        checkMode(createMode, ttl);
        submit(Native.CREATE, path, 0, data, -1, createMode.toFlag(), ttl, acl,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? (String) value : null,
                code == 0 ? stat(stat) : null));
    }

    public CompletableFuture<OpResult.CreateResult> createAsync(String path, byte[] data, List<ACL> acl,
                                                                CreateMode createMode) {
        return createAsync(path, data, acl, createMode, -1);
    }

    public CompletableFuture<OpResult.CreateResult> createAsync(String path, byte[] data, List<ACL> acl,
                                                                CreateMode createMode, long ttl) {
        CompletableFuture<OpResult.CreateResult> future = new CompletableFuture<>();
        try {
            checkMode(createMode, ttl);
        } catch (RuntimeException e) {
            future.completeExceptionally(e);
            return future;
        }
        submit(Native.CREATE, path, 0, data, -1, createMode.toFlag(), ttl, acl,
            settle(future, path, (value, stat) -> new OpResult.CreateResult((String) value, stat(stat))));
        return future;
    }

    // ----- delete

    public void delete(final String path, int version) throws InterruptedException, KeeperException {
        call(Native.DELETE, path, 0, null, version, 0, -1, null, null);
    }

    public void delete(final String path, int version, VoidCallback cb, Object ctx) {
        submit(Native.DELETE, path, 0, null, version, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx));
    }

    public CompletableFuture<Void> deleteAsync(String path, int version) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        submit(Native.DELETE, path, 0, null, version, 0, -1, null, settle(future, path, (value, stat) -> null));
        return future;
    }

    // ----- exists

    /** The node's Stat, or null if it does not exist; {@code watcher} is told when it is created, changed or deleted. */
    public Stat exists(final String path, Watcher watcher) throws KeeperException, InterruptedException {
        long token = events.watch(ClientEvents.DATA, path, watcher);
        long[] s = new long[STAT_FIELDS];
        Object found = call(Native.EXISTS, path, token, null, -1, 0, -1, null, s);
        return found == null ? null : stat(s);
    }

    public Stat exists(String path, boolean watch) throws KeeperException, InterruptedException {
        return exists(path, defaultIf(watch));
    }

    public void exists(final String path, Watcher watcher, StatCallback cb, Object ctx) {
        long token = events.watch(ClientEvents.DATA, path, watcher);
        submit(Native.EXISTS, path, token, null, -1, 0, -1, null, (code, value, stat) -> {
            boolean missing = code == 0 && value == null;
            int rc = missing ? KeeperException.Code.NONODE.intValue() : rc(code);
            cb.processResult(rc, path, ctx, rc == 0 ? stat(stat) : null);
        });
    }

    public void exists(String path, boolean watch, StatCallback cb, Object ctx) {
        exists(path, defaultIf(watch), cb, ctx);
    }

    /** The node's Stat, or null if it does not exist. */
    public CompletableFuture<Stat> existsAsync(String path, Watcher watcher) {
        CompletableFuture<Stat> future = new CompletableFuture<>();
        long token = events.watch(ClientEvents.DATA, path, watcher);
        submit(Native.EXISTS, path, token, null, -1, 0, -1, null,
            settle(future, path, (value, stat) -> value == null ? null : stat(stat)));
        return future;
    }

    public CompletableFuture<Stat> existsAsync(String path, boolean watch) {
        return existsAsync(path, defaultIf(watch));
    }

    // ----- getData

    public byte[] getData(final String path, Watcher watcher, Stat stat) throws KeeperException, InterruptedException {
        long token = events.watch(ClientEvents.DATA, path, watcher);
        long[] s = new long[STAT_FIELDS];
        byte[] data = (byte[]) call(Native.GET_DATA, path, token, null, -1, 0, -1, null, s);
        copy(s, stat);
        return data;
    }

    public byte[] getData(String path, boolean watch, Stat stat) throws KeeperException, InterruptedException {
        return getData(path, defaultIf(watch), stat);
    }

    public void getData(final String path, Watcher watcher, DataCallback cb, Object ctx) {
        long token = events.watch(ClientEvents.DATA, path, watcher);
        submit(Native.GET_DATA, path, token, null, -1, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? (byte[]) value : null,
                code == 0 ? stat(stat) : null));
    }

    public void getData(String path, boolean watch, DataCallback cb, Object ctx) {
        getData(path, defaultIf(watch), cb, ctx);
    }

    public CompletableFuture<OpResult.GetDataResult> getDataAsync(String path, Watcher watcher) {
        CompletableFuture<OpResult.GetDataResult> future = new CompletableFuture<>();
        long token = events.watch(ClientEvents.DATA, path, watcher);
        submit(Native.GET_DATA, path, token, null, -1, 0, -1, null,
            settle(future, path, (value, stat) -> new OpResult.GetDataResult((byte[]) value, stat(stat))));
        return future;
    }

    public CompletableFuture<OpResult.GetDataResult> getDataAsync(String path, boolean watch) {
        return getDataAsync(path, defaultIf(watch));
    }

    /** The ensemble's configuration ({@code /zookeeper/config}). */
    public byte[] getConfig(Watcher watcher, Stat stat) throws KeeperException, InterruptedException {
        return getData(ZooDefs.CONFIG_NODE, watcher, stat);
    }

    public void getConfig(Watcher watcher, DataCallback cb, Object ctx) {
        getData(ZooDefs.CONFIG_NODE, watcher, cb, ctx);
    }

    public byte[] getConfig(boolean watch, Stat stat) throws KeeperException, InterruptedException {
        return getConfig(defaultIf(watch), stat);
    }

    public void getConfig(boolean watch, DataCallback cb, Object ctx) {
        getConfig(defaultIf(watch), cb, ctx);
    }

    // ----- setData

    public Stat setData(final String path, byte[] data, int version) throws KeeperException, InterruptedException {
        long[] s = new long[STAT_FIELDS];
        call(Native.SET_DATA, path, 0, data, version, 0, -1, null, s);
        return stat(s);
    }

    public void setData(final String path, byte[] data, int version, StatCallback cb, Object ctx) {
        submit(Native.SET_DATA, path, 0, data, version, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? stat(stat) : null));
    }

    public CompletableFuture<Stat> setDataAsync(String path, byte[] data, int version) {
        CompletableFuture<Stat> future = new CompletableFuture<>();
        submit(Native.SET_DATA, path, 0, data, version, 0, -1, null, settle(future, path, (value, stat) -> stat(stat)));
        return future;
    }

    // ----- ACLs

    public List<ACL> getACL(final String path, Stat stat) throws KeeperException, InterruptedException {
        long[] s = new long[STAT_FIELDS];
        Object acl = call(Native.GET_ACL, path, 0, null, -1, 0, -1, null, s);
        copy(s, stat);
        return acls(acl);
    }

    public void getACL(final String path, Stat stat, ACLCallback cb, Object ctx) {
        submit(Native.GET_ACL, path, 0, null, -1, 0, -1, null, (code, value, s) -> {
            if (code == 0) {
                copy(s, stat);
            }
            cb.processResult(rc(code), path, ctx, code == 0 ? acls(value) : null, code == 0 ? stat(s) : null);
        });
    }

    public CompletableFuture<Results.Acl> getACLAsync(String path) {
        CompletableFuture<Results.Acl> future = new CompletableFuture<>();
        submit(Native.GET_ACL, path, 0, null, -1, 0, -1, null,
            settle(future, path, (value, stat) -> new Results.Acl(acls(value), stat(stat))));
        return future;
    }

    public Stat setACL(final String path, List<ACL> acl, int aclVersion) throws KeeperException, InterruptedException {
        checkAcl(acl);
        long[] s = new long[STAT_FIELDS];
        call(Native.SET_ACL, path, 0, null, aclVersion, 0, -1, acl, s);
        return stat(s);
    }

    public void setACL(final String path, List<ACL> acl, int version, StatCallback cb, Object ctx) {
        submit(Native.SET_ACL, path, 0, null, version, 0, -1, acl,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? stat(stat) : null));
    }

    public CompletableFuture<Stat> setACLAsync(String path, List<ACL> acl, int version) {
        CompletableFuture<Stat> future = new CompletableFuture<>();
        submit(Native.SET_ACL, path, 0, null, version, 0, -1, acl, settle(future, path, (value, stat) -> stat(stat)));
        return future;
    }

    // ----- getChildren

    public List<String> getChildren(final String path, Watcher watcher) throws KeeperException, InterruptedException {
        return getChildren(path, watcher, (Stat) null);
    }

    public List<String> getChildren(String path, boolean watch) throws KeeperException, InterruptedException {
        return getChildren(path, defaultIf(watch), (Stat) null);
    }

    public List<String> getChildren(final String path, Watcher watcher, Stat stat)
        throws KeeperException, InterruptedException {
        long token = events.watch(ClientEvents.CHILD, path, watcher);
        long[] s = new long[STAT_FIELDS];
        Object children = call(Native.GET_CHILDREN, path, token, null, -1, 0, -1, null, s);
        copy(s, stat);
        return strings(children);
    }

    public List<String> getChildren(String path, boolean watch, Stat stat) throws KeeperException, InterruptedException {
        return getChildren(path, defaultIf(watch), stat);
    }

    public void getChildren(final String path, Watcher watcher, ChildrenCallback cb, Object ctx) {
        long token = events.watch(ClientEvents.CHILD, path, watcher);
        submit(Native.GET_CHILDREN, path, token, null, -1, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? strings(value) : null));
    }

    public void getChildren(String path, boolean watch, ChildrenCallback cb, Object ctx) {
        getChildren(path, defaultIf(watch), cb, ctx);
    }

    public void getChildren(final String path, Watcher watcher, Children2Callback cb, Object ctx) {
        long token = events.watch(ClientEvents.CHILD, path, watcher);
        submit(Native.GET_CHILDREN, path, token, null, -1, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? strings(value) : null,
                code == 0 ? stat(stat) : null));
    }

    public void getChildren(String path, boolean watch, Children2Callback cb, Object ctx) {
        getChildren(path, defaultIf(watch), cb, ctx);
    }

    public CompletableFuture<Results.Children> getChildrenAsync(String path, Watcher watcher) {
        CompletableFuture<Results.Children> future = new CompletableFuture<>();
        long token = events.watch(ClientEvents.CHILD, path, watcher);
        submit(Native.GET_CHILDREN, path, token, null, -1, 0, -1, null,
            settle(future, path, (value, stat) -> new Results.Children(strings(value), stat(stat))));
        return future;
    }

    public CompletableFuture<Results.Children> getChildrenAsync(String path, boolean watch) {
        return getChildrenAsync(path, defaultIf(watch));
    }

    // ----- counts and ephemerals

    /** How many nodes are below {@code path} (all levels). */
    public int getAllChildrenNumber(final String path) throws KeeperException, InterruptedException {
        return ((int[]) call(Native.GET_ALL_CHILDREN_NUMBER, path, 0, null, -1, 0, -1, null, null))[0];
    }

    public void getAllChildrenNumber(final String path, AllChildrenNumberCallback cb, Object ctx) {
        submit(Native.GET_ALL_CHILDREN_NUMBER, path, 0, null, -1, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), path, ctx, code == 0 ? ((int[]) value)[0] : -1));
    }

    public CompletableFuture<Integer> getAllChildrenNumberAsync(String path) {
        CompletableFuture<Integer> future = new CompletableFuture<>();
        submit(Native.GET_ALL_CHILDREN_NUMBER, path, 0, null, -1, 0, -1, null,
            settle(future, path, (value, stat) -> ((int[]) value)[0]));
        return future;
    }

    /** This session's ephemeral nodes. */
    public List<String> getEphemerals() throws KeeperException, InterruptedException {
        return getEphemerals("/");
    }

    /** This session's ephemeral nodes whose path starts with {@code prefixPath}. */
    public List<String> getEphemerals(String prefixPath) throws KeeperException, InterruptedException {
        return strings(call(Native.GET_EPHEMERALS, prefixPath, 0, null, -1, 0, -1, null, null));
    }

    public void getEphemerals(String prefixPath, EphemeralsCallback cb, Object ctx) {
        submit(Native.GET_EPHEMERALS, prefixPath, 0, null, -1, 0, -1, null,
            (code, value, stat) -> cb.processResult(rc(code), ctx, code == 0 ? strings(value) : null));
    }

    public void getEphemerals(EphemeralsCallback cb, Object ctx) {
        getEphemerals("/", cb, ctx);
    }

    public CompletableFuture<List<String>> getEphemeralsAsync(String prefixPath) {
        CompletableFuture<List<String>> future = new CompletableFuture<>();
        submit(Native.GET_EPHEMERALS, prefixPath, 0, null, -1, 0, -1, null,
            settle(future, prefixPath, (value, stat) -> strings(value)));
        return future;
    }

    public CompletableFuture<List<String>> getEphemeralsAsync() {
        return getEphemeralsAsync("/");
    }

    public CompletableFuture<List<ClientInfo>> whoAmIAsync() {
        CompletableFuture<List<ClientInfo>> future = new CompletableFuture<>();
        submit(Native.WHO_AM_I, "/", 0, null, -1, 0, -1, null, settle(future, null, (value, stat) -> clientInfos(value)));
        return future;
    }

    // ----- sync

    /** Waits until the server this client uses has caught up with the leader (as of this call). */
    public void sync(final String path) throws KeeperException, InterruptedException {
        call(Native.SYNC, path, 0, null, -1, 0, -1, null, null);
    }

    public void sync(final String path, VoidCallback cb, Object ctx) {
        submit(Native.SYNC, path, 0, null, -1, 0, -1, null, (code, value, stat) -> cb.processResult(rc(code), path, ctx));
    }

    public CompletableFuture<Void> syncAsync(String path) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        submit(Native.SYNC, path, 0, null, -1, 0, -1, null, settle(future, path, (value, stat) -> null));
        return future;
    }

    // ----- multi

    /**
     * Applies every write op or none ({@link KeeperException#getResults()} tells which failed), or
     * runs read ops ({@link Op#getData}, {@link Op#getChildren}), each succeeding or failing on its own.
     */
    public List<OpResult> multi(Iterable<Op> ops) throws InterruptedException, KeeperException {
        List<Op> list = opList(ops);
        if (list.isEmpty()) {
            return new ArrayList<>();
        }
        return ClientEvents.multiResults(multiCall(list, 0));
    }

    public void multi(Iterable<Op> ops, MultiCallback cb, Object ctx) {
        List<Op> list = opList(ops);
        if (list.isEmpty()) {
            events.post(() -> cb.processResult(0, null, ctx, new ArrayList<>()));
            return;
        }
        submitMulti(list, (code, value, stat) -> {
            if (code == 0) {
                cb.processResult(0, null, ctx, ClientEvents.multiResults(value));
            } else {
                cb.processResult(rc(code), null, ctx, multiFailure(code, value, list.size()));
            }
        });
    }

    public CompletableFuture<List<OpResult>> multiAsync(Iterable<Op> ops) {
        CompletableFuture<List<OpResult>> future = new CompletableFuture<>();
        List<Op> list;
        try {
            list = opList(ops);
        } catch (RuntimeException e) {
            future.completeExceptionally(e);
            return future;
        }
        if (list.isEmpty()) {
            future.complete(new ArrayList<>());
            return future;
        }
        submitMulti(list, (code, value, stat) -> {
            if (code == 0) {
                future.complete(ClientEvents.multiResults(value));
            } else {
                KeeperException e = NativeErrors.keeper(code, null, null);
                e.setMultiResults(multiFailure(code, value, list.size()));
                future.completeExceptionally(e);
            }
        });
        return future;
    }

    public Transaction transaction() {
        return new Transaction(this);
    }

    // ----- watches

    /** Adds a persistent (or persistent-recursive) watch; it stays until removed or the session ends. */
    public void addWatch(String basePath, Watcher watcher, AddWatchMode mode) throws KeeperException, InterruptedException {
        checkWatcher(watcher);
        long token = events.watch(kindOf(mode), basePath, watcher);
        call(Native.ADD_WATCH, basePath, token, null, -1, mode.getMode(), -1, null, null);
    }

    public void addWatch(String basePath, AddWatchMode mode) throws KeeperException, InterruptedException {
        addWatch(basePath, events.defaultWatcher(), mode);
    }

    public void addWatch(String basePath, Watcher watcher, AddWatchMode mode, VoidCallback cb, Object ctx) {
        checkWatcher(watcher);
        long token = events.watch(kindOf(mode), basePath, watcher);
        submit(Native.ADD_WATCH, basePath, token, null, -1, mode.getMode(), -1, null,
            (code, value, stat) -> cb.processResult(rc(code), basePath, ctx));
    }

    public void addWatch(String basePath, AddWatchMode mode, VoidCallback cb, Object ctx) {
        addWatch(basePath, events.defaultWatcher(), mode, cb, ctx);
    }

    public CompletableFuture<Void> addWatchAsync(String basePath, Watcher watcher, AddWatchMode mode) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (watcher == null) {
            future.completeExceptionally(new IllegalArgumentException("Invalid Watcher, shouldn't be null!"));
            return future;
        }
        long token = events.watch(kindOf(mode), basePath, watcher);
        submit(Native.ADD_WATCH, basePath, token, null, -1, mode.getMode(), -1, null,
            settle(future, basePath, (value, stat) -> null));
        return future;
    }

    public CompletableFuture<Void> addWatchAsync(String basePath, AddWatchMode mode) {
        return addWatchAsync(basePath, events.defaultWatcher(), mode);
    }

    /**
     * Removes {@code watcher}'s watches of {@code watcherType} on {@code path}; it is told
     * {@code DataWatchRemoved}/{@code ChildWatchRemoved}/{@code PersistentWatchRemoved} and never
     * the watches' events. {@link KeeperException.NoWatcherException} if it had none. Watches are
     * always removed locally at once ({@code local} is accepted for compatibility); the server's is
     * removed when no other watch of the kind is left on the path.
     */
    public void removeWatches(String path, Watcher watcher, WatcherType watcherType, boolean local)
        throws InterruptedException, KeeperException {
        checkWatcher(watcher);
        removeWatchesNow(path, watcher, watcherType, null);
    }

    public void removeWatches(String path, Watcher watcher, WatcherType watcherType, boolean local, VoidCallback cb,
                              Object ctx) {
        checkWatcher(watcher);
        removeWatchesLater(path, watcher, watcherType, (code) -> cb.processResult(code, path, ctx));
    }

    /** Removes every watch of {@code watcherType} on {@code path}, as {@link #removeWatches}. */
    public void removeAllWatches(String path, WatcherType watcherType, boolean local)
        throws InterruptedException, KeeperException {
        removeWatchesNow(path, null, watcherType, null);
    }

    public void removeAllWatches(String path, WatcherType watcherType, boolean local, VoidCallback cb, Object ctx) {
        removeWatchesLater(path, null, watcherType, (code) -> cb.processResult(code, path, ctx));
    }

    public CompletableFuture<Void> removeWatchesAsync(String path, Watcher watcher, WatcherType watcherType,
                                                      boolean local) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (watcher == null) {
            future.completeExceptionally(new IllegalArgumentException("Invalid Watcher, shouldn't be null!"));
            return future;
        }
        removeWatchesLater(path, watcher, watcherType, (code) -> complete(future, code, path));
        return future;
    }

    public CompletableFuture<Void> removeAllWatchesAsync(String path, WatcherType watcherType, boolean local) {
        CompletableFuture<Void> future = new CompletableFuture<>();
        removeWatchesLater(path, null, watcherType, (code) -> complete(future, code, path));
        return future;
    }

    private void removeWatchesNow(String path, Watcher watcher, WatcherType type, Runnable then)
        throws KeeperException {
        checkPath(path);
        liveHandle(path);
        List<ClientEvents.Removed> removed = events.removeWatches(path, watcher, type);
        if (removed.isEmpty()) {
            throw new KeeperException.NoWatcherException(path);
        }
        for (ClientEvents.Removed r : removed) {
            Native.removeWatch(handle, r.token);
        }
        events.notifyRemoved(path, removed, then);
    }

    private interface RcCallback {
        void done(int rc);
    }

    private void removeWatchesLater(String path, Watcher watcher, WatcherType type, RcCallback cb) {
        try {
            removeWatchesNow(path, watcher, type, () -> cb.done(0));
        } catch (KeeperException e) {
            int code = e.code().intValue();
            events.post(() -> cb.done(code));
        }
    }

    private static void complete(CompletableFuture<Void> future, int code, String path) {
        if (code == 0) {
            future.complete(null);
        } else {
            future.completeExceptionally(NativeErrors.keeper(code, path, null));
        }
    }

    // ----- plumbing

    static final int STAT_FIELDS = 11;

    private Watcher defaultIf(boolean watch) {
        return watch ? events.defaultWatcher() : null;
    }

    private static int kindOf(AddWatchMode mode) {
        return mode == AddWatchMode.PERSISTENT_RECURSIVE ? ClientEvents.RECURSIVE : ClientEvents.PERSISTENT;
    }

    private static int rc(int code) {
        return NativeErrors.rc(code);
    }

    private static void checkWatcher(Watcher watcher) {
        if (watcher == null) {
            throw new IllegalArgumentException("Invalid Watcher, shouldn't be null!");
        }
    }

    private static void checkPath(String path) {
        if (path == null || path.isEmpty() || path.charAt(0) != '/') {
            throw new IllegalArgumentException("Path must start with / character: " + path);
        }
    }

    private static boolean badAcl(List<ACL> acl) {
        // Not contains(null): the immutable lists of List.of throw on it.
        return acl == null || acl.isEmpty() || acl.stream().anyMatch(Objects::isNull);
    }

    /** Apache's client-side ACL check: a sync call throws, an async one reports INVALIDACL. */
    private static void checkAcl(List<ACL> acl) throws KeeperException.InvalidACLException {
        if (badAcl(acl)) {
            throw new KeeperException.InvalidACLException();
        }
    }

    private static void checkMode(CreateMode mode, long ttl) {
        if (mode == null) {
            throw new IllegalArgumentException("createMode must not be null");
        }
        if (mode.isTTL()) {
            if (ttl <= 0 || ttl > MAX_TTL) {
                throw new IllegalArgumentException("ttl must be positive and at most " + MAX_TTL + ": " + ttl);
            }
        } else if (ttl >= 0) {
            throw new IllegalArgumentException("ttl not valid for mode: " + mode);
        }
    }

    /** The largest TTL the server accepts (40 bits of milliseconds). */
    private static final long MAX_TTL = 0xFF_FFFF_FFFFL;

    /** The handle, or the closed-client failure. */
    private long liveHandle(String path) throws KeeperException {
        if (closed) {
            throw NativeErrors.keeper(NativeErrors.CLOSED, path, null);
        }
        return handle;
    }

    /** A synchronous operation. */
    private Object call(int kind, String path, long token, byte[] data, int version, int mode, long ttl,
                        List<ACL> acl, long[] stat) throws KeeperException, InterruptedException {
        if (Thread.interrupted()) {
            events.forget(token);
            throw new InterruptedException();
        }
        try {
            long h = liveHandle(path);
            AclArrays a = AclArrays.of(acl);
            return Native.call(h, kind, 0, token, path, data, version, mode, ttl, a.perms, a.schemes, a.ids, stat);
        } catch (KeeperException | RuntimeException e) {
            events.forget(token);
            throw e;
        }
    }

    /** An asynchronous operation: {@code completion} runs on the event thread (inline if closed). */
    private void submit(int kind, String path, long token, byte[] data, int version, int mode, long ttl,
                        List<ACL> acl, ClientEvents.Completion completion) {
        if (closed) {
            events.forget(token);
            completion.complete(NativeErrors.CLOSED, null, null);
            return;
        }
        if ((kind == Native.CREATE || kind == Native.SET_ACL) && badAcl(acl)) {
            events.post(() -> completion.complete(KeeperException.Code.INVALIDACL.intValue(), null, null));
            return;
        }
        long op = events.pend(completion, token);
        try {
            AclArrays a = AclArrays.of(acl);
            Native.call(handle, kind, op, token, path, data, version, mode, ttl, a.perms, a.schemes, a.ids, null);
        } catch (KeeperException e) {
            // Closed under us: the native side could not queue the completion.
            events.unpend(op);
            events.forget(token);
            completion.complete(NativeErrors.CLOSED, null, null);
        } catch (RuntimeException e) {
            events.unpend(op);
            events.forget(token);
            throw e;
        }
    }

    private interface Extract<T> {
        T from(Object value, long[] stat);
    }

    /** A completion that settles {@code future}. */
    private static <T> ClientEvents.Completion settle(CompletableFuture<T> future, String path, Extract<T> extract) {
        return (code, value, stat) -> {
            if (code == 0) {
                future.complete(extract.from(value, stat));
            } else {
                future.completeExceptionally(NativeErrors.keeper(code, path, null));
            }
        };
    }

    private static List<Op> opList(Iterable<Op> ops) {
        List<Op> list = new ArrayList<>();
        for (Op op : ops) {
            if (op == null) {
                throw new IllegalArgumentException("a multi op must not be null");
            }
            list.add(op);
        }
        if (!list.isEmpty()) {
            Op.OpKind kind = list.get(0).getKind();
            for (Op op : list) {
                if (op.getKind() != kind) {
                    throw new IllegalArgumentException(
                        "Mixing read and write operations (transaction) is not allowed in a multi request.");
                }
            }
        }
        return list;
    }

    private Object multiCall(List<Op> ops, long op) throws KeeperException, InterruptedException {
        if (op == 0 && Thread.interrupted()) {
            throw new InterruptedException();
        }
        MultiArrays m = MultiArrays.of(ops);
        return Native.multi(op == 0 ? liveHandle(null) : handle, op, m.read, m.kinds, m.paths, m.datas, m.versions,
            m.modes, m.ttls, m.aclCounts, m.aclPerms, m.aclSchemes, m.aclIds);
    }

    private void submitMulti(List<Op> ops, ClientEvents.Completion completion) {
        if (closed) {
            completion.complete(NativeErrors.CLOSED, null, null);
            return;
        }
        long op = events.pend(completion, 0);
        try {
            multiCall(ops, op);
        } catch (KeeperException e) {
            events.unpend(op);
            completion.complete(NativeErrors.CLOSED, null, null);
        } catch (InterruptedException e) {
            events.unpend(op);
            Thread.currentThread().interrupt();
            completion.complete(KeeperException.Code.CONNECTIONLOSS.intValue(), null, null);
        } catch (RuntimeException e) {
            events.unpend(op);
            throw e;
        }
    }

    /** A failed multi's per-op errors: the native side sends {@code int[]{failedIndex}}. */
    private static List<OpResult> multiFailure(int code, Object value, int count) {
        int index = value instanceof int[] ? ((int[]) value)[0] : 0;
        return NativeErrors.multiErrors(code, index, count);
    }

    static Stat stat(long[] s) {
        if (s == null) {
            return null;
        }
        return new Stat(s[0], s[1], s[2], s[3], (int) s[4], (int) s[5], (int) s[6], s[7], (int) s[8], (int) s[9], s[10]);
    }

    private static void copy(long[] s, Stat target) {
        if (target == null || s == null) {
            return;
        }
        target.setCzxid(s[0]);
        target.setMzxid(s[1]);
        target.setCtime(s[2]);
        target.setMtime(s[3]);
        target.setVersion((int) s[4]);
        target.setCversion((int) s[5]);
        target.setAversion((int) s[6]);
        target.setEphemeralOwner(s[7]);
        target.setDataLength((int) s[8]);
        target.setNumChildren((int) s[9]);
        target.setPzxid(s[10]);
    }

    private static List<String> strings(Object value) {
        return value == null ? new ArrayList<>() : new ArrayList<>(Arrays.asList((String[]) value));
    }

    private static List<ACL> acls(Object value) {
        Object[] parts = (Object[]) value;
        int[] perms = (int[]) parts[0];
        String[] schemes = (String[]) parts[1];
        String[] ids = (String[]) parts[2];
        List<ACL> acl = new ArrayList<>(perms.length);
        for (int i = 0; i < perms.length; i++) {
            acl.add(new ACL(perms[i], new Id(schemes[i], ids[i])));
        }
        return acl;
    }

    private static List<ClientInfo> clientInfos(Object value) {
        String[] pairs = (String[]) value;
        List<ClientInfo> infos = new ArrayList<>(pairs.length / 2);
        for (int i = 0; i + 1 < pairs.length; i += 2) {
            infos.add(new ClientInfo(pairs[i], pairs[i + 1]));
        }
        return Collections.unmodifiableList(infos);
    }

    /** An ACL list as three parallel arrays (the native call's form). */
    static final class AclArrays {
        static final AclArrays NONE = new AclArrays(null, null, null);
        final int[] perms;
        final String[] schemes;
        final String[] ids;

        private AclArrays(int[] perms, String[] schemes, String[] ids) {
            this.perms = perms;
            this.schemes = schemes;
            this.ids = ids;
        }

        static AclArrays of(List<ACL> acl) {
            if (acl == null) {
                return NONE;
            }
            int n = acl.size();
            int[] perms = new int[n];
            String[] schemes = new String[n];
            String[] ids = new String[n];
            for (int i = 0; i < n; i++) {
                ACL entry = acl.get(i);
                perms[i] = entry.getPerms();
                schemes[i] = entry.getId() == null ? null : entry.getId().getScheme();
                ids[i] = entry.getId() == null ? null : entry.getId().getId();
            }
            return new AclArrays(perms, schemes, ids);
        }
    }

    /** A multi's ops as parallel arrays (the native call's form). */
    static final class MultiArrays {
        boolean read;
        int[] kinds;
        String[] paths;
        Object[] datas;
        int[] versions;
        int[] modes;
        long[] ttls;
        int[] aclCounts;
        int[] aclPerms;
        String[] aclSchemes;
        String[] aclIds;

        static MultiArrays of(List<Op> ops) {
            MultiArrays m = new MultiArrays();
            int n = ops.size();
            m.read = ops.get(0).getKind() == Op.OpKind.READ;
            m.kinds = new int[n];
            m.paths = new String[n];
            m.datas = new Object[n];
            m.versions = new int[n];
            m.modes = new int[n];
            m.ttls = new long[n];
            m.aclCounts = new int[n];
            List<ACL> allAcl = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Op op = ops.get(i);
                m.paths[i] = op.getPath();
                m.versions[i] = -1;
                m.ttls[i] = -1;
                if (op instanceof Op.Create) {
                    Op.Create c = (Op.Create) op;
                    checkMode(c.mode, c.mode.isTTL() ? c.ttl : -1);
                    if (badAcl(c.acl)) {
                        throw new IllegalArgumentException(new KeeperException.InvalidACLException(c.getPath()));
                    }
                    m.kinds[i] = Native.CREATE;
                    m.datas[i] = c.data;
                    m.modes[i] = c.mode.toFlag();
                    m.ttls[i] = c.mode.isTTL() ? c.ttl : -1;
                    m.aclCounts[i] = c.acl.size();
                    allAcl.addAll(c.acl);
                } else if (op instanceof Op.Delete) {
                    m.kinds[i] = Native.DELETE;
                    m.versions[i] = ((Op.Delete) op).version;
                } else if (op instanceof Op.SetData) {
                    m.kinds[i] = Native.SET_DATA;
                    m.datas[i] = ((Op.SetData) op).data;
                    m.versions[i] = ((Op.SetData) op).version;
                } else if (op instanceof Op.Check) {
                    m.kinds[i] = ZooDefs.OpCode.check;
                    m.versions[i] = ((Op.Check) op).version;
                } else if (op instanceof Op.GetData) {
                    m.kinds[i] = Native.GET_DATA;
                } else {
                    m.kinds[i] = Native.GET_CHILDREN;
                }
            }
            AclArrays a = AclArrays.of(allAcl);
            m.aclPerms = a.perms;
            m.aclSchemes = a.schemes;
            m.aclIds = a.ids;
            return m;
        }
    }
}
