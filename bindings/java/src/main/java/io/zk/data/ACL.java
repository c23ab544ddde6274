package io.zk.data;

import java.util.Objects;

/** Permission bits ({@link io.zk.ZooDefs.Perms}) for an identity, as Apache's {@code org.apache.zookeeper.data.ACL}. */
public class ACL {
    private int perms;
    private Id id;

    public ACL() {}

    public ACL(int perms, Id id) {
        this.perms = perms;
        this.id = id;
    }

    public int getPerms() { return perms; }
    public void setPerms(int perms) { this.perms = perms; }
    public Id getId() { return id; }
    public void setId(Id id) { this.id = id; }

    @Override
    public boolean equals(Object other) {
        return other instanceof ACL && perms == ((ACL) other).perms && Objects.equals(id, ((ACL) other).id);
    }

    @Override
    public int hashCode() {
        return Objects.hash(perms, id);
    }

    @Override
    public String toString() {
        return perms + "," + id;
    }
}
