package io.zk.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;

/**
 * Loads the native library once per JVM, in this order:
 * <ol>
 *   <li>the file named by {@code -Dio.zk.native.library=/path/libzk_java.so};</li>
 *   <li>the copy packed in this jar under {@code native/<os>-<arch>/}, extracted once per content
 *       into {@code <tmpdir>/io.zk-<user>/<sha256>/} (or {@code -Dio.zk.native.dir}); concurrent
 *       JVMs each write a private temporary file and rename it into place, so none sees a partial
 *       file;</li>
 *   <li>{@code System.loadLibrary("zk_java")} (a build from source with {@code java.library.path}).</li>
 * </ol>
 * A platform the jar has no library for fails with an {@link UnsatisfiedLinkError} that says so.
 */
public final class NativeLoader {
    public static final String LIBRARY_PROPERTY = "io.zk.native.library";
    public static final String DIR_PROPERTY = "io.zk.native.dir";
    static final String NAME = "zk_java";

    private static volatile String loadedFrom;

    private NativeLoader() {}

    /** The version of this jar (the Maven project version). */
    public static String version() {
        Properties properties = new Properties();
        try (InputStream in = NativeLoader.class.getResourceAsStream("version.properties")) {
            if (in != null) {
                properties.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return properties.getProperty("version", "unknown");
    }

    /** Where the library was loaded from (null before the first load). */
    public static String loadedFrom() {
        return loadedFrom;
    }

    /** {@code linux-x86_64}, {@code linux-aarch64}, ... for this JVM. */
    public static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osName = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "macos"
            : os.startsWith("windows") ? "windows" : os.replaceAll("[^a-z0-9]", "");
        String archName = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
            : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch.replaceAll("[^a-z0-9_]", "");
        return osName + "-" + archName;
    }

    public static synchronized void load() {
        if (loadedFrom != null) {
            return;
        }
        String explicit = System.getProperty(LIBRARY_PROPERTY);
        String from;
        if (explicit != null && !explicit.isEmpty()) {
            System.load(Paths.get(explicit).toAbsolutePath().toString());
            from = explicit;
        } else {
            String platform = platform();
            String resource = "/native/" + platform + "/" + System.mapLibraryName(NAME);
            URL packed = NativeLoader.class.getResource(resource);
            if (packed != null) {
                Path file = extract(packed);
                System.load(file.toString());
                from = file.toString();
            } else {
                try {
                    System.loadLibrary(NAME);
                    from = "java.library.path";
                } catch (UnsatisfiedLinkError missing) {
                    UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                        "zk: no native library for this platform (" + platform + "): this jar has none at "
                            + resource + " and java.library.path has no " + System.mapLibraryName(NAME)
                            + ". Build the jar on this platform (mvn -f bindings/java package) or set -D"
                            + LIBRARY_PROPERTY + "=/path/to/" + System.mapLibraryName(NAME));
                    error.initCause(missing);
                    throw error;
                }
            }
        }
        String nativeVersion = nativeVersion();
        String jarVersion = version();
        if (!nativeVersion.equals(jarVersion)) {
            throw new UnsatisfiedLinkError("zk: the native library loaded from " + from + " is version "
                + nativeVersion + " but the Java classes are " + jarVersion);
        }
        init(Log.nativeLevel());
        loadedFrom = from;
        Log.debug("zk native library " + nativeVersion + " loaded from " + from);
    }

    /**
     * Copies the packed library to {@code <base>/<sha-256 prefix>/}, streamed (a release build
     * with debug info is tens of megabytes, more than a small heap holds), unless an earlier
     * JVM put the same file there.
     */
    private static Path extract(URL packed) {
        try {
            Path base = baseDir();
            Path partial = Files.createTempFile(base, NAME, ".partial");
            try {
                MessageDigest sha = sha256();
                try (InputStream in = new DigestInputStream(packed.openStream(), sha)) {
                    Files.copy(in, partial, StandardCopyOption.REPLACE_EXISTING);
                }
                Path dir = base.resolve(hex(sha.digest()).substring(0, 32));
                Path target = dir.resolve(System.mapLibraryName(NAME));
                if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Files.size(target) == Files.size(partial)) {
                    return target;
                }
                Files.createDirectories(dir);
                try {
                    Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException raced) {
                    Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING);
                }
                return target;
            } finally {
                Files.deleteIfExists(partial);
            }
        } catch (IOException e) {
            UnsatisfiedLinkError error = new UnsatisfiedLinkError(
                "zk: cannot extract the native library from the jar (" + e + "); set -D" + DIR_PROPERTY
                    + " to a writable directory or -D" + LIBRARY_PROPERTY + " to an extracted copy");
            error.initCause(e);
            throw error;
        }
    }

    /** A directory only this user can write, so nobody else can plant a library there. */
    private static Path baseDir() throws IOException {
        String configured = System.getProperty(DIR_PROPERTY);
        if (configured != null && !configured.isEmpty()) {
            Path dir = Paths.get(configured);
            Files.createDirectories(dir);
            return dir;
        }
        String user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        Path dir = Paths.get(System.getProperty("java.io.tmpdir"), "io.zk-" + user);
        boolean posix = dir.getFileSystem().supportedFileAttributeViews().contains("posix");
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                if (posix) {
                    Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                } else {
                    Files.createDirectory(dir);
                }
            } catch (FileAlreadyExistsException raced) {
                // another JVM made it first; checked below
            }
        }
        if (posix) {
            Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(dir, LinkOption.NOFOLLOW_LINKS);
            boolean ours = Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(System.getProperty("user.name"));
            if (!ours || permissions.contains(PosixFilePermission.GROUP_WRITE)
                || permissions.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new IOException(dir + " is not a private directory of this user");
            }
        }
        return dir;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder hex = new StringBuilder();
        for (byte b : bytes) {
            hex.append(String.format("%02x", b));
        }
        return hex.toString();
    }

    private static native String nativeVersion();

    /** Caches the classes the native side calls back into (with this class's loader) and sets its log level. */
    private static native void init(int logLevel);
}
