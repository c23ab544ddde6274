package io.zk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.zk.ZooDefs.Ids;
import io.zk.test.Events;
import io.zk.test.Jvm;
import io.zk.test.Servers;
import io.zk.test.SharedServer;
import io.zk.test.ZkServer;
import java.io.File;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** This jar's Lock and Curator 5.9's InterProcessMutex on one path, in two JVMs: never two holders. */
@ExtendWith(SharedServer.class)
class CuratorInteropTest {
    private static final String ROUNDS = "40";

    @Test
    void ourLockAndCuratorsMutexExcludeEachOther(ZkServer server) throws Exception {
        String root;
        try (ZooKeeper zk = Servers.connect(server, new Events())) {
            root = Servers.root(zk, "curator");
            zk.create(root + "/ready", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        String test = Jvm.testClasses();
        Process curator = Jvm.start(test + File.pathSeparator + Jvm.referenceClasspath(), "interop.CuratorLocker",
            List.of(), server.connectString(), root, ROUNDS);
        Process ours = Jvm.start(Jvm.zkClasses() + File.pathSeparator + test, "interop.ZkLocker", List.of(),
            server.connectString(), root, ROUNDS);
        Jvm.Result curatorResult = Jvm.finish(curator, Duration.ofMinutes(3));
        Jvm.Result ourResult = Jvm.finish(ours, Duration.ofMinutes(3));
        assertEquals(0, curatorResult.exitCode(), curatorResult.describe());
        assertEquals(0, ourResult.exitCode(), ourResult.describe());
        assertTrue(curatorResult.stdout().contains("curator rounds=" + ROUNDS + " violations=0"), curatorResult.describe());
        assertTrue(ourResult.stdout().contains("zk rounds=" + ROUNDS + " violations=0"), ourResult.describe());
        assertFalse(String.join("\n", curatorResult.stdout()).contains("VIOLATION"));
    }
}
