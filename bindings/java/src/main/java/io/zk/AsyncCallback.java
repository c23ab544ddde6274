package io.zk;

import io.zk.data.ACL;
import io.zk.data.Stat;
import java.util.List;

/**
 * The completion interfaces of the asynchronous operations, as Apache's
 * {@code org.apache.zookeeper.AsyncCallback}: {@code rc} is a {@link KeeperException.Code} number
 * (0 on success), {@code path} the path the caller passed, {@code ctx} the caller's context object.
 * Called on the client's event thread in the order the replies arrived.
 */
public interface AsyncCallback {

    interface StatCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, Stat stat);
    }

    interface AllChildrenNumberCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, int number);
    }

    interface DataCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, byte[] data, Stat stat);
    }

    interface ACLCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, List<ACL> acl, Stat stat);
    }

    interface ChildrenCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, List<String> children);
    }

    interface Children2Callback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, List<String> children, Stat stat);
    }

    interface Create2Callback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, String name, Stat stat);
    }

    interface StringCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, String name);
    }

    interface VoidCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx);
    }

    interface MultiCallback extends AsyncCallback {
        void processResult(int rc, String path, Object ctx, List<OpResult> opResults);
    }

    interface EphemeralsCallback extends AsyncCallback {
        void processResult(int rc, Object ctx, List<String> paths);
    }
}
