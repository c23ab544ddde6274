package io.zk.test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a Java program in another JVM (the interop and port checks, exit checks) with a deadline. */
public final class Jvm {
    private Jvm() {}

    /** What a finished JVM printed and returned. */
    public record Result(int exitCode, List<String> stdout, String stderr) {
        public String describe() {
            return "exit " + exitCode + "\n--- stdout\n" + String.join("\n", stdout) + "\n--- stderr\n" + stderr;
        }
    }

    /** The jar's own classes (target/classes, which carry the native library). */
    public static String zkClasses() {
        return System.getProperty("zk.classes", "target/classes");
    }

    public static String testClasses() {
        return System.getProperty("zk.test.classes", "target/test-classes");
    }

    /** Apache's client, Curator and their dependencies (written by maven-dependency-plugin). */
    public static String referenceClasspath() throws IOException {
        Path file = Paths.get(System.getProperty("zk.reference.classpath", "target/reference-classpath.txt"));
        return Files.readString(file).trim();
    }

    public static Process start(String classpath, String main, List<String> jvmFlags, String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-XX:TieredStopAtLevel=1");
        command.add("-Xshare:auto");
        command.addAll(jvmFlags);
        command.add("-cp");
        command.add(classpath);
        command.add(main);
        command.addAll(Arrays.asList(args));
        return new ProcessBuilder(command).start();
    }

    /** Runs to completion; kills it and fails after {@code timeout}. */
    public static Result run(String classpath, String main, List<String> jvmFlags, Duration timeout, String... args)
        throws IOException, InterruptedException {
        Process process = start(classpath, main, jvmFlags, args);
        return finish(process, timeout);
    }

    public static Result finish(Process process, Duration timeout) throws InterruptedException, IOException {
        StringBuilder out = new StringBuilder();
        StringBuilder err = new StringBuilder();
        Thread outReader = pump(process.getInputStream(), out);
        Thread errReader = pump(process.getErrorStream(), err);
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            outReader.join(10_000);
            errReader.join(10_000);
            throw new AssertionError("the JVM did not finish within " + timeout + "\n--- stdout\n" + out + "\n--- stderr\n" + err);
        }
        outReader.join(30_000);
        errReader.join(30_000);
        List<String> lines = out.length() == 0 ? List.of() : Arrays.asList(out.toString().split("\n", -1));
        if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
            lines = lines.subList(0, lines.size() - 1);
        }
        return new Result(process.exitValue(), new ArrayList<>(lines), err.toString());
    }

    private static Thread pump(java.io.InputStream in, StringBuilder into) {
        Thread thread = new Thread(() -> {
            try {
                String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                synchronized (into) {
                    into.append(text);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        });
        thread.setDaemon(true);
        thread.start();
        return thread;
    }
}
