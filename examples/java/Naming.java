// Naming service: unique names from sequential znodes. Several clients ask for job names at once;
// the server appends a ten-digit counter to each create under /examples/naming, so no two names
// are ever the same, and each client's names grow.
//
//     java -cp bindings/java/target/zk-java-0.1.0.jar:bindings/java/target/examples Naming 127.0.0.1:2181
//
// (once the examples are compiled into bindings/java/target/examples, as README.md shows)

import io.zk.CreateMode;
import io.zk.ZooDefs.Ids;
import io.zk.ZooKeeper;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

public class Naming {
    static final int WORKERS = 4;
    static final int NAMES_EACH = 5;

    public static void main(String[] args) throws Exception {
        String hosts = Examples.hosts(args);
        ZooKeeper admin = Examples.connect(hosts, 10_000);
        Examples.ensurePath(admin, "/examples/naming");
        List<List<String>> namesOf = new ArrayList<>();
        List<Thread> workers = new ArrayList<>();
        for (int worker = 0; worker < WORKERS; worker++) {
            List<String> names = new ArrayList<>();
            namesOf.add(names);
            int id = worker;
            workers.add(Examples.spawn(() -> {
                try (ZooKeeper client = Examples.connect(hosts, 10_000)) { // another process, in real life
                    for (int i = 0; i < NAMES_EACH; i++) {
                        String path = client.create("/examples/naming/job-", ("requested by worker " + id).getBytes(),
                            Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);
                        System.out.println("worker " + id + " got " + path);
                        names.add(path);
                    }
                }
            }));
        }
        TreeSet<String> all = new TreeSet<>();
        boolean increasing = true;
        for (int i = 0; i < WORKERS; i++) {
            workers.get(i).join();
            List<String> names = namesOf.get(i);
            for (int j = 1; j < names.size(); j++) {
                increasing &= names.get(j - 1).compareTo(names.get(j)) < 0; // the ten-digit suffix sorts as text
            }
            all.addAll(names);
        }
        admin.close();
        boolean unique = all.size() == WORKERS * NAMES_EACH;
        Examples.verdict("naming", unique && increasing, all.size() + " unique names");
    }
}
