package io.zk.internal;

import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The library's log: SLF4J when it is on the classpath with a provider, otherwise
 * {@code java.util.logging}. Loggers are named {@code io.zk} (Java side) and
 * {@code io.zk.native.<module>} (the Rust core's messages, e.g. {@code io.zk.native.zk_core.client.actor}).
 */
public final class Log {
    /** Levels, as the native side numbers them. */
    public static final int ERROR = 1;
    public static final int WARN = 2;
    public static final int INFO = 3;
    public static final int DEBUG = 4;
    public static final int TRACE = 5;

    interface Sink {
        boolean enabled(String logger, int level);

        void log(String logger, int level, String message, Throwable error);
    }

    private static final Sink SINK = pick();
    private static final String NAME = "io.zk";

    private Log() {}

    private static Sink pick() {
        try {
            Class.forName("org.slf4j.LoggerFactory", false, Log.class.getClassLoader());
            Sink slf4j = (Sink) Class.forName("io.zk.internal.Slf4jSink").getDeclaredConstructor().newInstance();
            if (((Slf4jSink) slf4j).hasProvider()) {
                return slf4j;
            }
        } catch (ReflectiveOperationException | LinkageError | ClassCastException absent) {
            // no SLF4J: fall through
        }
        return new JulSink();
    }

    /** Whether SLF4J (rather than java.util.logging) receives the messages. */
    public static boolean usesSlf4j() {
        return SINK instanceof Slf4jSink;
    }

    public static void error(String message, Throwable error) {
        SINK.log(NAME, ERROR, message, error);
    }

    public static void warn(String message) {
        SINK.log(NAME, WARN, message, null);
    }

    public static void info(String message) {
        SINK.log(NAME, INFO, message, null);
    }

    public static void debug(String message) {
        if (SINK.enabled(NAME, DEBUG)) {
            SINK.log(NAME, DEBUG, message, null);
        }
    }

    /** The most detailed level enabled for the native side's loggers (what it bothers to send). */
    static int nativeLevel() {
        for (int level = TRACE; level > ERROR; level--) {
            if (SINK.enabled(NAME + ".native", level)) {
                return level;
            }
        }
        return ERROR;
    }

    private static final ConcurrentHashMap<String, String> NATIVE_NAMES = new ConcurrentHashMap<>();

    /** A message from the native side (called on its log thread). */
    static void nativeLog(int level, String target, String message) {
        String logger = NATIVE_NAMES.computeIfAbsent(target, t -> NAME + ".native." + t.replace("::", "."));
        SINK.log(logger, level, message, null);
    }

    static final class JulSink implements Sink {
        private final ConcurrentHashMap<String, Logger> loggers = new ConcurrentHashMap<>();

        private Logger logger(String name) {
            return loggers.computeIfAbsent(name, Logger::getLogger);
        }

        private static Level level(int level) {
            switch (level) {
                case ERROR:
                    return Level.SEVERE;
                case WARN:
                    return Level.WARNING;
                case INFO:
                    return Level.INFO;
                case DEBUG:
                    return Level.FINE;
                default:
                    return Level.FINEST;
            }
        }

        @Override
        public boolean enabled(String name, int level) {
            return logger(name).isLoggable(level(level));
        }

        @Override
        public void log(String name, int level, String message, Throwable error) {
            logger(name).log(level(level), message, error);
        }
    }
}
