// Configuration management: a service reloads its configuration whenever it changes. Each reader
// keeps a persistent watch on /examples/config/app (it never has to re-arm it, so no change can
// slip by) and re-reads the node on every change. The writer publishes five versions; every
// reader hears of every change, reads them in the order they were made (growing mzxid), and ends
// on the last version.
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples Config 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)

import io.zk.AddWatchMode;
import io.zk.WatchedEvent;
import io.zk.Watcher;
import io.zk.ZooKeeper;
import io.zk.data.Stat;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

public class Config {
    static final int READERS = 3;
    static final int VERSIONS = 5;
    static final String PATH = "/examples/config/app";

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        ZooKeeper writer = Examples.connect(hosts, 10_000);
        Examples.ensurePath(writer, PATH);
        writer.setData(PATH, "version=0".getBytes(), -1);

        CountDownLatch ready = new CountDownLatch(READERS);
        List<List<Long>> mzxidsOf = new ArrayList<>();
        List<List<String>> configsOf = new ArrayList<>();
        List<Thread> readers = new ArrayList<>();
        for (int reader = 0; reader < READERS; reader++) {
            int id = reader;
            List<Long> mzxids = new ArrayList<>();
            List<String> configs = new ArrayList<>();
            mzxidsOf.add(mzxids);
            configsOf.add(configs);
            readers.add(Examples.spawn(() -> {
                try (ZooKeeper client = Examples.connect(hosts, 10_000)) {
                    BlockingQueue<WatchedEvent> changes = new LinkedBlockingQueue<>();
                    client.addWatch(PATH, changes::add, AddWatchMode.PERSISTENT);
                    System.out.println("reader " + id + " loaded " + new String(client.getData(PATH, false, null)));
                    ready.countDown();
                    while (configs.size() < VERSIONS) {
                        WatchedEvent event = changes.poll(30, TimeUnit.SECONDS);
                        if (event == null) return; // a change was missed: the verdict says so
                        if (event.getType() != Watcher.Event.EventType.NodeDataChanged) continue; // a connection event
                        Stat stat = new Stat();
                        String config = new String(client.getData(PATH, false, stat)); // reload
                        System.out.printf("reader %d reloaded %s (mzxid 0x%x)%n", id, config, stat.getMzxid());
                        mzxids.add(stat.getMzxid());
                        configs.add(config);
                    }
                }
            }));
        }
        ready.await();
        for (int version = 1; version <= VERSIONS; version++) {
            writer.setData(PATH, ("version=" + version).getBytes(), -1);
            System.out.println("writer published version=" + version);
        }
        boolean ok = true;
        for (int i = 0; i < READERS; i++) {
            readers.get(i).join(60_000);
            List<Long> mzxids = mzxidsOf.get(i);
            List<String> configs = configsOf.get(i);
            ok &= configs.size() == VERSIONS && configs.get(VERSIONS - 1).equals("version=" + VERSIONS);
            for (int j = 1; j < mzxids.size(); j++) ok &= mzxids.get(j - 1) <= mzxids.get(j);
        }
        writer.close();
        Examples.verdict("config", ok, READERS + " readers heard all " + VERSIONS + " changes and read them in order");
    }
}
