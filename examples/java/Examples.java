// What every example of this directory shares: the connect string, a connected client, paths
// made and removed, threads and worker processes, the verdict line the tests look for. It is
// compiled with the examples (see README.md); it is not an example itself.

import io.zk.CreateMode;
import io.zk.KeeperException;
import io.zk.Watcher;
import io.zk.ZKUtil;
import io.zk.ZooDefs.Ids;
import io.zk.ZooKeeper;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

final class Examples {
    private Examples() {}

    /** The connect string: the first argument, else $ZK_HOSTS, else 127.0.0.1:2181. */
    static String hosts(String[] args) {
        return args.length > 0 ? args[0] : System.getenv().getOrDefault("ZK_HOSTS", "127.0.0.1:2181");
    }

    /** A new session, once connected (each call is another client, as another process would be); exit 2 if none comes. */
    static ZooKeeper connect(String hosts, int sessionTimeoutMs) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, sessionTimeoutMs, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        if (!connected.await(30, TimeUnit.SECONDS)) {
            System.err.println("cannot connect to " + hosts);
            System.exit(2);
        }
        return zk;
    }

    /** Creates {@code path} and its missing ancestors (persistent, empty). */
    static void ensurePath(ZooKeeper zk, String path) throws Exception {
        for (int i = path.indexOf('/', 1); ; i = path.indexOf('/', i + 1)) {
            try {
                zk.create(i < 0 ? path : path.substring(0, i), new byte[0], Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException ignored) {
                // there already
            }
            if (i < 0) return;
        }
    }

    /**
     * Removes what a run left under {@code path} ({@link ZKUtil#deleteRecursive}); gone already is
     * fine (a recipe's container the server reaped), and a tree that changed while it was being
     * deleted (a closing session's ephemeral node) is listed again.
     */
    static void removeTree(ZooKeeper zk, String path) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                ZKUtil.deleteRecursive(zk, path);
                return;
            } catch (KeeperException.NoNodeException | KeeperException.NotEmptyException changed) {
                if (zk.exists(path, false) == null) return;
                if (attempt == 10) throw changed;
            }
        }
    }

    interface Body {
        void run() throws Exception;
    }

    /** Runs {@code body} on a new thread; a failure ends the program (exit 1). */
    static Thread spawn(Body body) {
        Thread thread = new Thread(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                t.printStackTrace();
                System.exit(1);
            }
        });
        thread.start();
        return thread;
    }

    /** The command that runs example {@code main} again, in a new JVM on this one's classpath, with {@code args}. */
    static List<String> self(Class<?> main, String... args) {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
            System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        return command;
    }

    /** Prints the verdict line the tests look for and exits 0 or 1. */
    static void verdict(String example, boolean ok, String detail) {
        System.out.println(example + ": " + (ok ? "ok" : "FAILED") + " (" + detail + ")");
        System.exit(ok ? 0 : 1);
    }
}
