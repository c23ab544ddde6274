package io.zk;

import io.zk.data.ACL;
import io.zk.data.Stat;
import java.util.List;

/** What the {@code CompletableFuture} operations of {@link ZooKeeper} return where one value is not enough. */
public final class Results {
    private Results() {}

    /** A node's children and its Stat ({@link ZooKeeper#getChildrenAsync}). */
    public record Children(List<String> children, Stat stat) {}

    /** A node's ACL and its Stat ({@link ZooKeeper#getACLAsync}). */
    public record Acl(List<ACL> acl, Stat stat) {}
}
