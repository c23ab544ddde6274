package io.zk.internal;

import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link Log}'s SLF4J half; loaded only when SLF4J is on the classpath. */
final class Slf4jSink implements Log.Sink {
    private final ConcurrentHashMap<String, Logger> loggers = new ConcurrentHashMap<>();

    /** False when SLF4J found no provider (it would drop every message): use java.util.logging then. */
    boolean hasProvider() {
        return !LoggerFactory.getILoggerFactory().getClass().getName().contains("NOP");
    }

    private Logger logger(String name) {
        return loggers.computeIfAbsent(name, LoggerFactory::getLogger);
    }

    @Override
    public boolean enabled(String name, int level) {
        Logger logger = logger(name);
        switch (level) {
            case Log.ERROR:
                return logger.isErrorEnabled();
            case Log.WARN:
                return logger.isWarnEnabled();
            case Log.INFO:
                return logger.isInfoEnabled();
            case Log.DEBUG:
                return logger.isDebugEnabled();
            default:
                return logger.isTraceEnabled();
        }
    }

    @Override
    public void log(String name, int level, String message, Throwable error) {
        Logger logger = logger(name);
        switch (level) {
            case Log.ERROR:
                logger.error(message, error);
                break;
            case Log.WARN:
                logger.warn(message, error);
                break;
            case Log.INFO:
                logger.info(message, error);
                break;
            case Log.DEBUG:
                logger.debug(message, error);
                break;
            default:
                logger.trace(message, error);
        }
    }
}
