package io.zk.test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * A program of examples/ (a single-file Java source) running in its own JVM, its stdout collected
 * line by line for tests to wait on (with deadlines); stderr goes to a file next to it.
 */
public final class Program implements AutoCloseable {
    private static final long WAIT_MS = Events.WAIT.toMillis();
    private static Path compiled;

    private final String name;
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Path stderr;
    private final Thread reader;

    private Program(String name, Process process, Path stderr) {
        this.name = name;
        this.process = process;
        this.stderr = stderr;
        reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.add(line);
                        lines.notifyAll();
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "program-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    /** The repository's root (examples/ lives there). */
    public static Path repoRoot() {
        return Paths.get(System.getProperty("zk.repo.root", "../..")).toAbsolutePath().normalize();
    }

    /**
     * Compiles the examples' sources ({@code examples/java/*.java}, {@code examples/ha/java/*.java})
     * once, against the jar's classes, so each run does not pay the source launcher's compile.
     */
    public static synchronized Path compiled() throws IOException {
        if (compiled != null) {
            return compiled;
        }
        Path out = Paths.get(System.getProperty("zk.work.dir", "target/test-work")).resolve("examples-classes");
        compile(out, "examples/java", "examples/ha/java");
        compiled = out;
        return out;
    }

    /** Compiles every {@code .java} file of {@code dirs} (relative to the repository) into {@code out}, on the jar's classes. */
    public static void compile(Path out, String... dirs) throws IOException {
        Files.createDirectories(out);
        List<String> args = new ArrayList<>(List.of("-d", out.toString(), "-cp", Jvm.zkClasses(), "-Xlint:-options",
            "-XDignore.symbol.file", "-nowarn"));
        for (String dir : dirs) {
            try (var files = Files.list(repoRoot().resolve(dir))) {
                files.filter(p -> p.toString().endsWith(".java")).sorted().forEach(p -> args.add(p.toString()));
            }
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac.run(null, null, null, args.toArray(String[]::new)) != 0) {
            throw new IllegalStateException("the examples do not compile: javac " + args);
        }
    }

    /** Starts class {@code main} of the compiled examples. */
    public static Program start(String name, String main, List<String> args) throws IOException {
        return start(name, compiled(), main, args);
    }

    /** Starts class {@code main} of {@code classes} on the jar's classes: {@code java -cp <jar>:<classes> Main ARGS}. */
    public static Program start(String name, Path classes, String main, List<String> args) throws IOException {
        return launch(name, List.of("-cp", Jvm.zkClasses() + ":" + classes, main), args);
    }

    /** Starts a source file as its README says: {@code java -cp <jar> File.java ARGS}. */
    public static Program source(String name, Path file, List<String> args) throws IOException {
        return launch(name, List.of("-cp", Jvm.zkClasses(), file.toString()), args);
    }

    private static Program launch(String name, List<String> target, List<String> args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto"));
        command.addAll(target);
        command.addAll(args);
        Path dir = Paths.get(System.getProperty("zk.work.dir", "target/test-work"));
        Files.createDirectories(dir);
        Path stderr = Files.createTempFile(dir, name + "-", ".stderr");
        // No input: a program that asks (the controller's --format) reads end-of-file, i.e. "no".
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderr.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        builder.environment().put("JDK_JAVA_OPTIONS", "");
        return new Program(name, builder.start(), stderr);
    }

    public List<String> lines() {
        synchronized (lines) {
            return new ArrayList<>(lines);
        }
    }

    public boolean hasLine(String line) {
        return lines().contains(line);
    }

    /** Waits until a line matches, failing after the tests' deadline. */
    public void waitFor(Predicate<String> wanted, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + WAIT_MS;
        synchronized (lines) {
            while (lines.stream().noneMatch(wanted)) {
                long left = deadline - System.currentTimeMillis();
                if (left <= 0) {
                    throw new AssertionError(name + " never printed " + what + "\n" + describe());
                }
                lines.wait(Math.min(left, 100));
            }
        }
    }

    public void waitFor(String line) throws InterruptedException {
        waitFor(line::equals, line);
    }

    /** Waits for the exit (failing after a deadline) and for the last of its output. */
    public int waitExit() throws InterruptedException {
        if (!process.waitFor(WAIT_MS * 2, TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new AssertionError(name + " did not exit\n" + describe());
        }
        reader.join(WAIT_MS);
        return process.exitValue();
    }

    /** SIGKILL: nothing of the program runs any more. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    /** SIGTERM (through the handle: {@code Process.destroy} would also close our end of its stdout). */
    public void terminate() {
        process.toHandle().destroy();
    }

    public String describe() {
        String err;
        try {
            err = Files.readString(stderr);
        } catch (IOException e) {
            err = e.toString();
        }
        return "--- " + name + " stdout\n" + String.join("\n", lines()) + "\n--- stderr\n" + err;
    }

    @Override
    public void close() {
        process.destroyForcibly();
    }
}
