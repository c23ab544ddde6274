package io.zk.data;

import java.util.Objects;

/** One identity of a session, as {@code whoAmI} reports it ({@code org.apache.zookeeper.data.ClientInfo}). */
public class ClientInfo {
    private String authScheme;
    private String user;

    public ClientInfo() {}

    public ClientInfo(String authScheme, String user) {
        this.authScheme = authScheme;
        this.user = user;
    }

    public String getAuthScheme() { return authScheme; }
    public void setAuthScheme(String authScheme) { this.authScheme = authScheme; }
    public String getUser() { return user; }
    public void setUser(String user) { this.user = user; }

    @Override
    public boolean equals(Object other) {
        return other instanceof ClientInfo && Objects.equals(authScheme, ((ClientInfo) other).authScheme)
            && Objects.equals(user, ((ClientInfo) other).user);
    }

    @Override
    public int hashCode() {
        return Objects.hash(authScheme, user);
    }

    @Override
    public String toString() {
        return "'" + authScheme + ",'" + user + "\n";
    }
}
