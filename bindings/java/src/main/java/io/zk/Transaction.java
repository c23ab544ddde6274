package io.zk;

import io.zk.data.ACL;
import java.util.ArrayList;
import java.util.List;

/** Collects writes for one {@link ZooKeeper#multi multi}, as Apache's {@code org.apache.zookeeper.Transaction}. */
public class Transaction {
    private final ZooKeeper zk;
    private final List<Op> ops = new ArrayList<>();

    protected Transaction(ZooKeeper zk) {
        this.zk = zk;
    }

    public Transaction create(final String path, byte[] data, List<ACL> acl, CreateMode createMode) {
        ops.add(Op.create(path, data, acl, createMode.toFlag()));
        return this;
    }

    public Transaction delete(final String path, int version) {
        ops.add(Op.delete(path, version));
        return this;
    }

    public Transaction check(String path, int version) {
        ops.add(Op.check(path, version));
        return this;
    }

    public Transaction setData(final String path, byte[] data, int version) {
        ops.add(Op.setData(path, data, version));
        return this;
    }

    public List<OpResult> commit() throws InterruptedException, KeeperException {
        return zk.multi(ops);
    }

    public void commit(AsyncCallback.MultiCallback cb, Object ctx) {
        zk.multi(ops, cb, ctx);
    }
}
