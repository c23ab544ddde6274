// A Hadoop-style failover controller (HDFS's ZKFC) in Java: it health-checks a local service,
// keeps it in the election while it is healthy, and fences the previous active before its service
// takes over. The elector (io.zk.recipes.ActiveStandbyElector, the core's) does the ZooKeeper work;
// examples/ha/README.md has the flags (the same in every language), the output lines and the exit
// codes. Run: java -cp bindings/java/target/zk-java-0.1.0.jar examples/ha/java/Controller.java FLAGS

import io.zk.recipes.ActiveNodeInfo;
import io.zk.recipes.ActiveStandbyElector;
import io.zk.recipes.ServiceFailedException;
import java.io.*;
import java.net.*;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import sun.misc.Signal;

public class Controller {
    // Hadoop's exit codes (ZKFailoverController); any other failure is 1.
    static final int FAILED = 1, FORMAT_DENIED = 2, NO_PARENT_ZNODE = 3, NO_FENCER = 4, NO_ZK = 6;
    static final List<String> SWITCHES = List.of("--format", "--force", "--non-interactive");
    static final List<String> OPTIONS = List.of("--zk", "--root", "--nameservice", "--id", "--host", "--port",
        "--zkfc-port", "--session-timeout-ms", "--check-cmd", "--check-port", "--check-interval-ms",
        "--check-timeout-ms", "--fence", "--on-active", "--on-standby");

    enum Health { Initializing, Healthy, Unhealthy, NotResponding }

    /** Why the controller stops: a message and an exit code. */
    static final class Stop extends Exception {
        final int code;
        Stop(String message, int code) { super(message); this.code = code; }
    }

    static final Map<String, List<String>> flags = new HashMap<>();
    static volatile String id = "zkfc";

    public static void main(String[] args) {
        Stop stop;
        try { parse(args); stop = controller(); }
        catch (Stop s) { stop = s; }
        say((stop.code == 0 ? "exit " : "fatal ") + stop.getMessage());
        System.exit(stop.code);
    }

    static void parse(String[] args) throws Stop {
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            if (!SWITCHES.contains(flag) && !OPTIONS.contains(flag)) throw new Stop("unknown argument " + flag, FAILED);
            String value = SWITCHES.contains(flag) ? "" : i + 1 < args.length ? args[++i] : "";
            flags.computeIfAbsent(flag, f -> new ArrayList<>()).add(value);
        }
        int checks = all("--check-cmd").size() + all("--check-port").size();
        if (!on("--zk") || !on("--nameservice") || !(on("--format") || (on("--id") && checks == 1))) {
            String usage = "--zk, --nameservice, --id and one of --check-cmd, --check-port";
            throw new Stop("needs " + usage + " (examples/ha/README.md)", FAILED);
        }
    }

    static List<String> all(String flag) { return flags.getOrDefault(flag, List.of()); }
    static boolean on(String flag) { return flags.containsKey(flag); }
    static String get(String flag, String otherwise) { List<String> v = all(flag); return v.isEmpty() ? otherwise : v.get(v.size() - 1); }

    static int number(String flag, int otherwise) throws Stop {
        String value = get(flag, null);
        if (value == null) return otherwise;
        try { return Integer.parseInt(value.substring(value.lastIndexOf(':') + 1)); } // --check-port HOST:PORT
        catch (NumberFormatException e) { throw new Stop(flag + " " + value + ": not a number", FAILED); }
    }

    static Stop controller() throws Stop {
        id = get("--id", "zkfc").isEmpty() ? "zkfc" : get("--id", "zkfc");
        int interval = number("--check-interval-ms", 1000), timeout = number("--check-timeout-ms", 45_000);
        String parent = ActiveStandbyElector.parentZnode(get("--root", "/hadoop-ha"), get("--nameservice", ""));
        LinkedBlockingQueue<Stop> stops = new LinkedBlockingQueue<>();
        ActiveStandbyElector elector;
        try {
            elector = ActiveStandbyElector.builder(get("--zk", ""), parent)
                .sessionTimeout(number("--session-timeout-ms", 10_000)).build(new Events(stops));
        } catch (IllegalArgumentException e) {
            throw new Stop("bad configuration: " + e.getMessage(), FAILED);
        }
        try {
            boolean exists;
            try { exists = elector.parentZNodeExists(); }
            catch (Exception e) { throw new Stop("cannot reach ZooKeeper: " + e.getMessage(), NO_ZK); }
            if (on("--format")) return format(elector, exists);
            if (!exists) throw new Stop(parent + " does not exist: run --format", NO_PARENT_ZNODE);
            if (all("--fence").isEmpty()) throw new Stop("no fencing method (--fence)", NO_FENCER);
            String host = get("--host", localHost());
            byte[] me = new ActiveNodeInfo(get("--nameservice", ""), id, host,
                number("--port", number("--check-port", 0)), number("--zkfc-port", 0)).encode();
            for (String name : List.of("TERM", "INT")) Signal.handle(new Signal(name), s -> stops.add(new Stop("on SIG" + name, 0)));
            Health health = Health.Initializing;
            say("health " + health);
            while (true) {
                Health now = check(timeout);
                if (now != health) {
                    say("health " + (health = now));
                    if (health == Health.Healthy) elector.joinElection(me); // ZKFC's recheckElectability
                    else elector.quitElection(true);
                }
                Stop stop = stops.poll(interval, TimeUnit.MILLISECONDS);
                if (stop != null) {
                    // As ZKFC on its way out: the service may still be active, so keep the breadcrumb.
                    elector.quitElection(true);
                    return stop;
                }
            }
        } catch (InterruptedException | io.zk.KeeperException e) {
            throw new Stop(e.toString(), FAILED);
        } finally {
            elector.close();
        }
    }

    /** The elector's callbacks, on its event thread: a slow health check never delays a failover. */
    record Events(LinkedBlockingQueue<Stop> stops) implements ActiveStandbyElector.ActiveStandbyElectorCallback {
        public void becomeActive() throws ServiceFailedException {
            boolean ok = run(get("--on-active", ""));
            say(ok ? "active" : "active failed");
            if (!ok) throw new ServiceFailedException("--on-active failed");
        }

        public void becomeStandby() {
            say("standby");
            if (!run(get("--on-standby", ""))) throw new IllegalStateException("--on-standby failed");
        }
        public void enterNeutralMode() { say("neutral"); }
        public void notifyFatalError(String message) { stops.add(new Stop(message, FAILED)); }

        /** Hadoop's NodeFencer with shell(...) methods: tried in order until one exits 0 (bash -e -c). */
        public void fenceOldActive(byte[] data) {
            ActiveNodeInfo old;
            try { old = ActiveNodeInfo.decode(data); }
            catch (IllegalArgumentException e) { say("fence ? failed: the breadcrumb is not an ActiveNodeInfo"); throw e; }
            Map<String, String> env = Map.of("target_host", old.hostname(), "target_port", "" + old.port(),
                "target_address", old.hostname() + ":" + old.port(), "target_nameserviceid", old.nameserviceId(),
                "target_namenodeid", old.namenodeId());
            for (String method : all("--fence")) {
                String cmd = method.startsWith("shell(") && method.endsWith(")") ? method.substring(6, method.length() - 1) : method;
                if (shell(List.of("bash", "-e", "-c", cmd), env, -1) == Boolean.TRUE) {
                    say("fence " + old.namenodeId() + " ok");
                    return;
                }
            }
            say("fence " + old.namenodeId() + " failed");
            throw new IllegalStateException("no fencing method succeeded");
        }
    }

    /** One health check: a command (exit 0 healthy, else unhealthy) or a TCP connect; no answer in time is NotResponding. */
    static Health check(int limit) {
        String port = get("--check-port", "");
        Boolean healthy;
        if (port.isEmpty()) {
            healthy = shell(List.of("sh", "-c", get("--check-cmd", "")), Map.of(), limit);
        } else {
            int colon = port.lastIndexOf(':');
            String host = colon < 0 ? "127.0.0.1" : port.substring(0, colon);
            try (Socket socket = new Socket()) { socket.connect(new InetSocketAddress(host, Integer.parseInt(port.substring(colon + 1))), limit); healthy = true; }
            catch (Exception e) { healthy = null; }
        }
        return healthy == null ? Health.NotResponding : healthy ? Health.Healthy : Health.Unhealthy;
    }

    /** Runs a command: whether it exited 0, or null if it could not start or outran {@code limitMs} (negative: none). */
    static Boolean shell(List<String> argv, Map<String, String> env, long limitMs) {
        try {
            ProcessBuilder builder = new ProcessBuilder(argv).inheritIO();
            builder.environment().putAll(env);
            Process process = builder.start();
            if (limitMs < 0) return process.waitFor() == 0;
            if (process.waitFor(limitMs, TimeUnit.MILLISECONDS)) return process.exitValue() == 0;
            process.destroyForcibly();
            return null;
        } catch (Exception e) { return null; }
    }

    static boolean run(String cmd) {
        boolean ok = cmd.isEmpty() || shell(List.of("sh", "-c", cmd), Map.of(), -1) == Boolean.TRUE;
        if (!ok) say("command failed: " + cmd);
        return ok;
    }

    /** hdfs zkfc -formatZK [-force] [-nonInteractive]. */
    static Stop format(ActiveStandbyElector elector, boolean exists) throws Stop {
        String parent = elector.getParentZNode();
        if (exists && !on("--force") && (on("--non-interactive") || !confirm(parent))) {
            throw new Stop(parent + " exists: not formatted (--force)", FORMAT_DENIED);
        }
        try { elector.formatZK(true); return new Stop("formatted " + parent, 0); }
        catch (Exception e) { throw new Stop("cannot format " + parent + ": " + e.getMessage(), FAILED); }
    }

    static boolean confirm(String parent) {
        System.err.print(parent + " exists; stop its controllers first. Proceed formatting? (Y or N) ");
        try { String answer = new BufferedReader(new InputStreamReader(System.in)).readLine(); return answer != null && List.of("Y", "y", "yes").contains(answer.trim()); }
        catch (Exception e) { return false; }
    }

    static String localHost() {
        try { String name = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim(); return name.isEmpty() ? "localhost" : name; }
        catch (Exception e) { return "localhost"; }
    }

    /** One line of output, prefixed with the instance id (README: "Output"). */
    static synchronized void say(String what) {
        System.out.println("[" + id + "] " + what);
        System.out.flush();
    }
}
