package zkha;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.ha.ActiveStandbyElector;
import org.apache.hadoop.ha.ActiveStandbyElector.ActiveStandbyElectorCallback;
import org.apache.hadoop.ha.ServiceFailedException;
import org.apache.hadoop.hdfs.server.namenode.ha.proto.HAZKInfoProtos.ActiveNodeInfo;
import org.apache.zookeeper.ZooDefs;
import sun.misc.Signal;

/**
 * A failover controller in miniature around Hadoop's own {@link ActiveStandbyElector}, as
 * HDFS's ZKFC drives it, with the command line and output lines of examples/ha's controllers
 * (the subset tests/ha uses): a TCP health check joins the election when healthy and quits it
 * needing fencing when not; the elector's callbacks run --on-active, --on-standby and the
 * --fence methods (bash -e -c, the old active's ActiveNodeInfo decoded by Hadoop's
 * HAZKInfoProtos into ShellCommandFencer's target_* variables). Exit codes are ZKFC's.
 */
public final class HadoopController implements ActiveStandbyElectorCallback {
    private static final Set<String> SWITCHES = Set.of("--format", "--force", "--non-interactive");
    private static final Set<String> OPTIONS = Set.of("--zk", "--root", "--nameservice", "--id",
            "--host", "--port", "--zkfc-port", "--session-timeout-ms", "--check-port",
            "--check-interval-ms", "--check-timeout-ms", "--fence", "--on-active", "--on-standby");
    // ha.failover-controller.active-standby-elector.zk.op.retries
    private static final int ZK_OP_RETRIES = 3;

    private final Map<String, List<String>> flags;
    private final String id;
    private volatile String fatal;

    private HadoopController(Map<String, List<String>> flags) {
        this.flags = flags;
        this.id = get("--id", "zkfc");
    }

    public static void main(String[] args) {
        Map<String, List<String>> flags = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (!SWITCHES.contains(flag) && !OPTIONS.contains(flag)) {
                System.out.println("[zkfc] fatal unknown argument " + flag);
                System.exit(1);
            }
            String value = SWITCHES.contains(flag) || i + 1 >= args.length ? "" : args[++i];
            flags.computeIfAbsent(flag, f -> new ArrayList<>()).add(value);
        }
        HadoopController controller = new HadoopController(flags);
        int code;
        try {
            code = controller.run();
        } catch (Exception e) {
            controller.say("fatal " + e);
            code = 1;
        }
        System.exit(code);
    }

    private int run() throws Exception {
        if (!flags.containsKey("--zk") || !flags.containsKey("--nameservice")) {
            say("fatal needs --zk and --nameservice");
            return 1;
        }
        String parent = get("--root", "/hadoop-ha") + "/" + get("--nameservice", "");
        ActiveStandbyElector elector;
        try {
            elector = new ActiveStandbyElector(get("--zk", ""), number("--session-timeout-ms", 10000),
                    parent, ZooDefs.Ids.OPEN_ACL_UNSAFE, Collections.emptyList(), this,
                    ZK_OP_RETRIES, null);
        } catch (IOException e) {
            say("fatal cannot reach ZooKeeper: " + e);
            return 6;
        }
        if (flags.containsKey("--format")) {
            if (elector.parentZNodeExists()) {
                if (!flags.containsKey("--force")) {
                    say("fatal " + parent + " exists: not formatted (--force)");
                    return 2;
                }
                elector.clearParentZNode();
            }
            elector.ensureParentZNode();
            say("exit formatted " + parent);
            return 0;
        }
        if (!elector.parentZNodeExists()) {
            say("fatal " + parent + " does not exist: run --format");
            return 3;
        }
        if (!flags.containsKey("--fence")) {
            say("fatal no fencing method (--fence)");
            return 4;
        }
        byte[] me = ActiveNodeInfo.newBuilder()
                .setNameserviceId(get("--nameservice", ""))
                .setNamenodeId(id)
                .setHostname(get("--host", "localhost"))
                .setPort(number("--port", 0))
                .setZkfcPort(number("--zkfc-port", 0))
                .build().toByteArray();
        Object stop = new Object();
        boolean[] terminated = {false};
        Signal.handle(new Signal("TERM"), signal -> {
            synchronized (stop) {
                terminated[0] = true;
                stop.notifyAll();
            }
        });
        String health = "Initializing";
        say("health " + health);
        long interval = number("--check-interval-ms", 1000);
        synchronized (stop) {
            while (!terminated[0] && fatal == null) {
                String now = check();
                if (!now.equals(health)) {
                    health = now;
                    say("health " + health);
                    if (health.equals("Healthy")) {
                        elector.joinElection(me);
                    } else {
                        elector.quitElection(true); // the service may still act: fence it
                    }
                }
                stop.wait(interval);
            }
        }
        elector.quitElection(true);
        elector.terminateConnection();
        if (fatal != null) {
            say("fatal " + fatal);
            return 1;
        }
        say("exit on SIGTERM");
        return 0;
    }

    /** HealthMonitor's states for a TCP check: accepted is Healthy; else NotResponding. */
    private String check() {
        String target = get("--check-port", "");
        int colon = target.lastIndexOf(':');
        String host = colon < 0 ? "127.0.0.1" : target.substring(0, colon);
        int port = Integer.parseInt(target.substring(colon + 1));
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, port), number("--check-timeout-ms", 45000));
            return "Healthy";
        } catch (IOException e) {
            return "NotResponding";
        }
    }

    @Override
    public void becomeActive() throws ServiceFailedException {
        if (!shell(List.of("sh", "-c", get("--on-active", "true")), Map.of())) {
            say("active failed");
            throw new ServiceFailedException("--on-active failed");
        }
        say("active");
    }

    @Override
    public void becomeStandby() {
        say("standby");
        shell(List.of("sh", "-c", get("--on-standby", "true")), Map.of());
    }

    @Override
    public void enterNeutralMode() {
        say("neutral");
    }

    @Override
    public void notifyFatalError(String message) {
        fatal = message;
    }

    /** ZKFC's fencing with NodeFencer's shell(...) methods, tried in order until one exits 0. */
    @Override
    public void fenceOldActive(byte[] data) {
        ActiveNodeInfo old;
        try {
            old = ActiveNodeInfo.parseFrom(data);
        } catch (IOException e) {
            say("fence ? failed: the breadcrumb is not an ActiveNodeInfo: " + e.getMessage());
            throw new RuntimeException("Unable to fence: " + e.getMessage(), e);
        }
        Map<String, String> env = Map.of(
                "target_host", old.getHostname(),
                "target_port", Integer.toString(old.getPort()),
                "target_address", old.getHostname() + ":" + old.getPort(),
                "target_nameserviceid", old.getNameserviceId(),
                "target_namenodeid", old.getNamenodeId());
        for (String method : flags.getOrDefault("--fence", List.of())) {
            String command = method.startsWith("shell(") && method.endsWith(")")
                    ? method.substring(6, method.length() - 1) : method;
            if (shell(List.of("bash", "-e", "-c", command), env)) {
                say("fence " + old.getNamenodeId() + " ok");
                return;
            }
        }
        say("fence " + old.getNamenodeId() + " failed");
        throw new RuntimeException("Unable to fence " + old.getNamenodeId());
    }

    private boolean shell(List<String> argv, Map<String, String> env) {
        ProcessBuilder builder = new ProcessBuilder(argv).inheritIO();
        builder.environment().putAll(env);
        try {
            Process process = builder.start();
            if (!process.waitFor(120, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return false;
            }
            return process.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private String get(String flag, String fallback) {
        List<String> values = flags.get(flag);
        return values == null ? fallback : values.get(values.size() - 1);
    }

    private int number(String flag, int fallback) {
        String value = get(flag, Integer.toString(fallback));
        return Integer.parseInt(value.substring(value.lastIndexOf(':') + 1));
    }

    private void say(String what) {
        synchronized (System.out) {
            System.out.println("[" + id + "] " + what);
            System.out.flush();
        }
    }
}
