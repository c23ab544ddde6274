package io.zk.test;

import io.zk.AddWatchMode;
import io.zk.CreateMode;
import io.zk.ZooDefs;
import io.zk.ZooKeeper;

/**
 * Opens clients, leaves watches, callbacks and requests pending, and returns from main without
 * closing anything: the JVM must exit on its own (no non-daemon native thread, no hang on unload).
 * Usage: ExitWithOpenClients CONNECT_STRING
 */
public final class ExitWithOpenClients {
    private ExitWithOpenClients() {}

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < 3; i++) {
            Events events = new Events("client" + i);
            ZooKeeper zk = Servers.connect(args[0], events, 30_000);
            String root = Servers.root(zk, "exit");
            zk.addWatch(root, events, AddWatchMode.PERSISTENT_RECURSIVE);
            zk.create(root + "/e", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            zk.getData(root, false, (rc, path, ctx, data, stat) -> { }, null);
            zk.exists(root + "/never", events);
        }
        System.out.println("leaving main with clients open");
    }
}
