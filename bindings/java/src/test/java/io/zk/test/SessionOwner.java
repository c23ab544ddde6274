package io.zk.test;

import io.zk.CreateMode;
import io.zk.ZooDefs;
import io.zk.ZooKeeper;
import java.util.HexFormat;

/**
 * A process that opens a session, creates an ephemeral node, prints the session's id and
 * password, and dies without closing it (as a crashed process would), leaving the session for
 * another process to resume. Usage: SessionOwner CONNECT_STRING PATH
 */
public final class SessionOwner {
    private SessionOwner() {}

    public static void main(String[] args) throws Exception {
        Events events = new Events("owner");
        ZooKeeper zk = Servers.connect(args[0], events, 30_000);
        zk.create(args[1], null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        System.out.println(zk.getSessionId() + " " + HexFormat.of().formatHex(zk.getSessionPasswd()));
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}
