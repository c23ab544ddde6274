package io.zk.client;

import io.zk.Watcher;
import io.zk.ZooKeeper;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Every option of a {@link ZooKeeper}, named as in Apache's {@code org.apache.zookeeper.client.ZooKeeperBuilder},
 * plus where callbacks run ({@link #withExecutor}) and when a slow one is reported.
 */
public class ZooKeeperBuilder {
    private final String connectString;
    private final Duration sessionTimeout;
    private Watcher defaultWatcher;
    private boolean canBeReadOnly;
    private long sessionId;
    private byte[] sessionPasswd;
    private Executor executor;
    private long slowCallbackMillis = ZooKeeper.DEFAULT_SLOW_CALLBACK_MILLIS;
    private TlsOptions tls;
    private Map<String, String> clientProperties;
    private SaslOptions sasl;

    public ZooKeeperBuilder(String connectString, Duration sessionTimeout) {
        this.connectString = Objects.requireNonNull(connectString, "connectString");
        this.sessionTimeout = Objects.requireNonNull(sessionTimeout, "sessionTimeout");
    }

    /** The watcher of state changes and of {@code boolean watch} calls. */
    public ZooKeeperBuilder withDefaultWatcher(Watcher watcher) {
        this.defaultWatcher = watcher;
        return this;
    }

    /** Accept a read-only server (one cut off from its quorum). */
    public ZooKeeperBuilder withCanBeReadOnly(boolean canBeReadOnly) {
        this.canBeReadOnly = canBeReadOnly;
        return this;
    }

    /** Resume this session instead of creating one. */
    public ZooKeeperBuilder withSession(long sessionId, byte[] sessionPasswd) {
        this.sessionId = sessionId;
        this.sessionPasswd = sessionPasswd == null ? null : sessionPasswd.clone();
        return this;
    }

    /**
     * Run watchers and callbacks on {@code executor} instead of the client's event thread; they
     * still run one at a time and in order, even on an executor with many threads.
     */
    public ZooKeeperBuilder withExecutor(Executor executor) {
        this.executor = executor;
        return this;
    }

    /** Report (in the log) watchers and callbacks that run longer than this. */
    public ZooKeeperBuilder withSlowCallbackThreshold(Duration threshold) {
        this.slowCallbackMillis = threshold.toMillis();
        return this;
    }

    /** Speak TLS to the servers (the connect string names their {@code secureClientPort}s). */
    public ZooKeeperBuilder withTls(TlsOptions tls) {
        this.tls = tls;
        return this;
    }

    /**
     * Authenticate with SASL DIGEST-MD5 on every connection (see {@link SaslOptions}); without
     * this, the JAAS {@code Client} section of {@code -Djava.security.auth.login.config} is used
     * if there is one, as Apache's Java client does.
     */
    public ZooKeeperBuilder withSasl(SaslOptions sasl) {
        this.sasl = sasl;
        return this;
    }

    /**
     * Apache's client properties for this client ({@code ZKClientConfig}'s names:
     * {@code zookeeper.client.secure}, {@code zookeeper.ssl.keyStore.location}/{@code .password}/
     * {@code .type} (PEM, PKCS12, JKS), {@code zookeeper.ssl.trustStore.*},
     * {@code zookeeper.ssl.hostnameVerification}, {@code zookeeper.sasl.clientconfig},
     * {@code jute.maxbuffer}, {@code zookeeper.request.timeout}, ...). They override the JVM's
     * system properties of the same names, which every client reads too; {@link #withTls} and
     * {@link #withSasl} override both.
     */
    public ZooKeeperBuilder withClientProperties(Map<String, String> properties) {
        this.clientProperties = properties == null ? null : new LinkedHashMap<>(properties);
        return this;
    }

    public ZooKeeper build() {
        return new ZooKeeper(this);
    }

    public String connectString() {
        return connectString;
    }

    public int sessionTimeoutMillis() {
        return (int) Math.min(Integer.MAX_VALUE, sessionTimeout.toMillis());
    }

    public Watcher defaultWatcher() {
        return defaultWatcher;
    }

    public boolean canBeReadOnly() {
        return canBeReadOnly;
    }

    public long sessionId() {
        return sessionId;
    }

    public byte[] sessionPasswd() {
        return sessionPasswd == null ? null : sessionPasswd.clone();
    }

    public Executor executor() {
        return executor;
    }

    public long slowCallbackMillis() {
        return slowCallbackMillis;
    }

    /** The TLS settings, or null for plaintext. */
    public TlsOptions tls() {
        return tls;
    }

    /** The explicit SASL credentials, or null (then the JAAS configuration decides). */
    public SaslOptions sasl() {
        return sasl;
    }

    /** This client's own properties (see {@link #withClientProperties}), or null. */
    public Map<String, String> clientProperties() {
        return clientProperties == null ? null : Collections.unmodifiableMap(clientProperties);
    }
}
