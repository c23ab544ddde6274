package interop;

import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryOneTime;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;

/**
 * One side of the lock interop check: Curator 5.9's InterProcessMutex (on Apache's client).
 * Each round it takes the lock, claims the holder node (which fails if anyone else holds the
 * lock), reads a little while holding, gives the claim and the lock back.
 * Usage: CuratorLocker CONNECT_STRING ROOT ROUNDS
 */
public final class CuratorLocker {
    private CuratorLocker() {}

    public static void main(String[] args) throws Exception {
        String root = args[1];
        int rounds = Integer.parseInt(args[2]);
        try (CuratorFramework client = CuratorFrameworkFactory.newClient(args[0], 30_000, 15_000, new RetryOneTime(100))) {
            client.start();
            if (!client.blockUntilConnected(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("Curator did not connect");
            }
            Rendezvous.meet(() -> client.getChildren().forPath(root + "/ready").size(),
                () -> client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(root + "/ready/curator"));
            InterProcessMutex mutex = new InterProcessMutex(client, root + "/lock");
            int violations = 0;
            for (int i = 0; i < rounds; i++) {
                if (!mutex.acquire(60, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("Curator could not take the lock");
                }
                try {
                    client.create().withMode(CreateMode.EPHEMERAL).forPath(root + "/holder", "curator".getBytes());
                    for (int r = 0; r < 3; r++) {
                        client.getData().forPath(root + "/holder");
                    }
                    client.delete().forPath(root + "/holder");
                } catch (KeeperException.NodeExistsException twoHolders) {
                    violations++;
                    System.out.println("VIOLATION: the holder node exists while Curator holds the lock");
                } finally {
                    mutex.release();
                }
            }
            System.out.println("curator rounds=" + rounds + " violations=" + violations);
            System.exit(violations == 0 ? 0 : 1);
        }
    }
}
