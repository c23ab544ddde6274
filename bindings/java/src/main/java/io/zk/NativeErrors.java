package io.zk;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns the native side's failures into Java exceptions (see {@code src/errors.rs}); the classes
 * themselves come from {@link KeeperException#create(KeeperException.Code)}.
 */
final class NativeErrors {
    /** What the core reports for a closed client; users see {@code SESSIONEXPIRED}, as with Apache's. */
    static final int CLOSED = -116;

    private NativeErrors() {}

    /** The {@code rc} a callback gets for a native code. */
    static int rc(int code) {
        return code == CLOSED ? KeeperException.Code.SESSIONEXPIRED.intValue() : code;
    }

    /** The exception for a failed call; called by native code, which throws it. */
    static Throwable exception(int code, String path, String detail) {
        if (code == KeeperException.Code.BADARGUMENTS.intValue() && detail != null) {
            return new IllegalArgumentException(detail);
        }
        return keeper(code, path, detail);
    }

    /** The exception for a failed multi: op {@code index} failed with {@code code}. */
    static Throwable multiFailed(int code, int index, int count) {
        KeeperException exception = keeper(code, null, null);
        exception.setMultiResults(multiErrors(code, index, count));
        return exception;
    }

    static KeeperException keeper(int code, String path, String detail) {
        KeeperException.Code known;
        try {
            known = KeeperException.Code.get(rc(code));
        } catch (IllegalArgumentException unknown) {
            known = KeeperException.Code.SYSTEMERROR;
            detail = "unknown error code " + code;
        }
        if (known == KeeperException.Code.OK) {
            known = KeeperException.Code.SYSTEMERROR;
        }
        KeeperException exception = KeeperException.create(known, path);
        if (code == CLOSED) {
            exception.setDetail("the client is closed");
        } else if (detail != null && !detail.isEmpty()) {
            exception.setDetail(detail);
        }
        return exception;
    }

    /** A failed multi's results as the server sends them: ops before the failed one OK, after it RUNTIMEINCONSISTENCY. */
    static List<OpResult> multiErrors(int code, int index, int count) {
        List<OpResult> results = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int err = i < index ? 0 : i == index ? code : KeeperException.Code.RUNTIMEINCONSISTENCY.intValue();
            results.add(new OpResult.ErrorResult(err));
        }
        return results;
    }
}
