package portcheck;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.AsyncCallback.StatCallback;
import org.apache.zookeeper.AsyncCallback.StringCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;

/**
 * A Hadoop-style active/standby elector written with exactly the calls Hadoop's
 * ActiveStandbyElector makes: create(path, data, acl, EPHEMERAL, StringCallback, ctx),
 * exists(path, Watcher, StatCallback, ctx), synchronous getData/create/setData(version)/delete(version),
 * getACL/setACL, getSessionId() against Stat.getEphemeralOwner(), close(), and a watcher that
 * may hear SyncConnected before the constructor returns. Two electors fail over: the second
 * fences the first (read from the breadcrumb) before becoming active.
 *
 * Usage: ElectorCheck CONNECT_STRING ROOT
 */
public final class ElectorCheck {
    private static final BlockingQueue<String> LOG = new LinkedBlockingQueue<>();

    static final class Elector implements StringCallback, StatCallback {
        private final String name;
        private final String lockPath;
        private final String breadcrumbPath;
        private final List<ACL> acl = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        private final CountDownLatch connected = new CountDownLatch(1);
        private volatile ZooKeeper zk;

        /** The watcher Hadoop passes to the constructor: it may run before zk is assigned. */
        private final class ClientWatcher implements Watcher {
            @Override
            public void process(WatchedEvent event) {
                if (event.getType() == Event.EventType.None) {
                    if (event.getState() == Event.KeeperState.SyncConnected) {
                        connected.countDown();
                    }
                    return;
                }
                if (event.getType() == Event.EventType.NodeDeleted && lockPath.equals(event.getPath())) {
                    LOG.add(name + ": the active's lock is gone");
                    joinElection();
                }
            }
        }

        private final ClientWatcher watcher = new ClientWatcher();

        Elector(String name, String root) {
            this.name = name;
            this.lockPath = root + "/ActiveStandbyElectorLock";
            this.breadcrumbPath = root + "/ActiveBreadCrumb";
        }

        void connect(String connectString) throws Exception {
            zk = new ZooKeeper(connectString, 10000, watcher);
            if (!connected.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("not connected");
            }
        }

        void ensureParent(String root) throws Exception {
            try {
                zk.create(root, new byte[0], acl, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException exists) {
                // another elector made it
            }
            Stat stat = new Stat();
            List<ACL> current = zk.getACL(root, stat);
            if (!current.equals(acl)) {
                zk.setACL(root, acl, stat.getAversion());
            }
            LOG.add(name + ": parent ready, acl entries " + zk.getACL(root, new Stat()).size());
        }

        void joinElection() {
            zk.create(lockPath, name.getBytes(StandardCharsets.UTF_8), acl, CreateMode.EPHEMERAL, this, zk);
        }

        @Override
        public void processResult(int rc, String path, Object ctx, String created) {
            if (rc == Code.OK.intValue()) {
                becomeActive();
            } else if (rc == Code.NODEEXISTS.intValue()) {
                monitorActive();
            } else {
                LOG.add(name + ": create failed " + Code.get(rc));
            }
        }

        void monitorActive() {
            zk.exists(lockPath, watcher, this, zk);
        }

        @Override
        public void processResult(int rc, String path, Object ctx, Stat stat) {
            if (rc == Code.OK.intValue()) {
                if (stat.getEphemeralOwner() == zk.getSessionId()) {
                    becomeActive();
                } else {
                    LOG.add(name + ": standby");
                }
            } else if (rc == Code.NONODE.intValue()) {
                joinElection();
            } else {
                LOG.add(name + ": exists failed " + Code.get(rc));
            }
        }

        private void becomeActive() {
            try {
                Stat stat = new Stat();
                byte[] old = null;
                try {
                    old = zk.getData(breadcrumbPath, false, stat);
                } catch (KeeperException.NoNodeException none) {
                    // nobody was active
                }
                if (old != null && !Arrays.equals(old, name.getBytes(StandardCharsets.UTF_8))) {
                    LOG.add(name + ": fencing " + new String(old, StandardCharsets.UTF_8));
                }
                if (old == null) {
                    zk.create(breadcrumbPath, name.getBytes(StandardCharsets.UTF_8), acl, CreateMode.PERSISTENT);
                } else {
                    zk.setData(breadcrumbPath, name.getBytes(StandardCharsets.UTF_8), stat.getVersion());
                }
                LOG.add(name + ": active");
            } catch (KeeperException | InterruptedException e) {
                LOG.add(name + ": becoming active failed " + e);
            }
        }

        /** A graceful exit: delete our breadcrumb (with its version) and the session. */
        void quitElection() throws Exception {
            Stat stat = new Stat();
            byte[] data = zk.getData(breadcrumbPath, false, stat);
            if (Arrays.equals(data, name.getBytes(StandardCharsets.UTF_8))) {
                zk.delete(breadcrumbPath, stat.getVersion());
                LOG.add(name + ": breadcrumb deleted");
            }
            zk.close();
        }

        /** A crash: the session goes, the breadcrumb stays. */
        void crash() throws InterruptedException {
            zk.close();
        }
    }

    static void expect(int lines) throws InterruptedException {
        for (int i = 0; i < lines; i++) {
            String line = LOG.poll(30, TimeUnit.SECONDS);
            System.out.println(line == null ? "MISSING" : line);
        }
    }

    public static void main(String[] args) throws Exception {
        String connectString = args[0];
        String root = args[1];
        Elector first = new Elector("nn1", root);
        Elector second = new Elector("nn2", root);
        first.connect(connectString);
        second.connect(connectString);
        first.ensureParent(root);
        second.ensureParent(root);
        expect(2);
        first.joinElection();
        expect(1);
        second.joinElection();
        expect(1);
        first.crash();
        expect(3);
        second.quitElection();
        expect(1);
        System.out.println("done");
    }
}
