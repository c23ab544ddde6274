package interop;

import io.zk.CreateMode;
import io.zk.KeeperException;
import io.zk.ZooDefs;
import io.zk.ZooKeeper;
import io.zk.recipes.Lease;
import io.zk.recipes.Lock;
import io.zk.test.Events;
import io.zk.test.Servers;
import java.util.concurrent.TimeUnit;

/**
 * The other side of the lock interop check: this jar's {@link Lock} (Curator's layout), doing
 * what {@link CuratorLocker} does. Usage: ZkLocker CONNECT_STRING ROOT ROUNDS
 */
public final class ZkLocker {
    private ZkLocker() {}

    public static void main(String[] args) throws Exception {
        String root = args[1];
        int rounds = Integer.parseInt(args[2]);
        try (ZooKeeper zk = Servers.connect(args[0], new Events("zk"), 30_000)) {
            Rendezvous.meet(() -> zk.getChildren(root + "/ready", false).size(), () -> {
                try {
                    zk.create(root + "/ready", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                } catch (KeeperException.NodeExistsException made) {
                    // the other side made it
                }
                zk.create(root + "/ready/zk", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
                return null;
            });
            Lock lock = new Lock(zk, root + "/lock");
            int violations = 0;
            long lastToken = 0;
            for (int i = 0; i < rounds; i++) {
                Lease lease = lock.acquire(60, TimeUnit.SECONDS);
                if (lease == null) {
                    throw new IllegalStateException("could not take the lock");
                }
                try {
                    if (lease.fencingToken() <= lastToken) {
                        System.out.println("VIOLATION: fencing token did not grow");
                        violations++;
                    }
                    lastToken = lease.fencingToken();
                    zk.create(root + "/holder", "zk".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
                    for (int r = 0; r < 3; r++) {
                        zk.getData(root + "/holder", false, null);
                    }
                    zk.delete(root + "/holder", -1);
                } catch (KeeperException.NodeExistsException twoHolders) {
                    violations++;
                    System.out.println("VIOLATION: the holder node exists while we hold the lock");
                } finally {
                    lease.release();
                }
            }
            System.out.println("zk rounds=" + rounds + " violations=" + violations);
            System.exit(violations == 0 ? 0 : 1);
        }
    }
}
