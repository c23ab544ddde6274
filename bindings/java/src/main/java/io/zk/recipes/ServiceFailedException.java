package io.zk.recipes;

import java.io.IOException;

/**
 * Thrown by {@link ActiveStandbyElector.ActiveStandbyElectorCallback#becomeActive} when the
 * service could not be made active (Hadoop's {@code org.apache.hadoop.ha.ServiceFailedException}):
 * the elector releases the lock, waits, and joins again.
 */
public class ServiceFailedException extends IOException {
    private static final long serialVersionUID = 1L;

    public ServiceFailedException(String message) {
        super(message);
    }

    public ServiceFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
