package io.zk.client;

import java.util.Objects;

/**
 * SASL DIGEST-MD5 credentials (a server's JAAS {@code user_<name>}; {@code sasl:<name>} ACLs),
 * for {@link ZooKeeperBuilder#withSasl}. Every connection authenticates with them before
 * anything else is sent; success is delivered as {@code KeeperState.SaslAuthenticated}, refusal
 * as {@code KeeperState.AuthFailed}, after which the client is dead (calls throw
 * {@code AuthFailedException}), as in Apache's Java client.
 *
 * <p>Without explicit credentials a client reads the JAAS {@code Client} section Apache's Java
 * client reads: the file named by {@code -Djava.security.auth.login.config}, the section named by
 * {@code zookeeper.sasl.clientconfig} (default {@code Client}), unless {@code zookeeper.sasl.client=false}.
 * {@link #toString()} never shows the password.
 */
public final class SaslOptions {
    private final String username;
    private final String password;

    /** DIGEST-MD5 as {@code username} with {@code password}. */
    public SaslOptions(String username, String password) {
        this.username = Objects.requireNonNull(username, "username");
        this.password = Objects.requireNonNull(password, "password");
    }

    public String username() {
        return username;
    }

    public String password() {
        return password;
    }

    @Override
    public String toString() {
        return "SaslOptions{mechanism=DIGEST-MD5, username=" + username + "}";
    }
}
