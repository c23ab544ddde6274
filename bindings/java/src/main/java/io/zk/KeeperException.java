package io.zk;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A failed operation, with one subclass per ZooKeeper error code, as Apache's
 * {@code org.apache.zookeeper.KeeperException}: {@link #code()} gives the {@link Code},
 * {@link #getPath()} the path the operation named, and {@link #getResults()} the per-op results
 * of a failed {@code multi}.
 *
 * <p>This file is the one place that maps error codes to exception classes.
 */
@SuppressWarnings("serial")
public abstract class KeeperException extends Exception {

    /** The original {@code int} constants, kept for code written against them. */
    @Deprecated
    public interface CodeDeprecated {
        @Deprecated
        int Ok = 0;
        @Deprecated
        int SystemError = -1;
        @Deprecated
        int RuntimeInconsistency = -2;
        @Deprecated
        int DataInconsistency = -3;
        @Deprecated
        int ConnectionLoss = -4;
        @Deprecated
        int MarshallingError = -5;
        @Deprecated
        int Unimplemented = -6;
        @Deprecated
        int OperationTimeout = -7;
        @Deprecated
        int BadArguments = -8;
        @Deprecated
        int UnknownSession = -12;
        @Deprecated
        int NewConfigNoQuorum = -13;
        @Deprecated
        int ReconfigInProgress = -14;
        @Deprecated
        int APIError = -100;
        @Deprecated
        int NoNode = -101;
        @Deprecated
        int NoAuth = -102;
        @Deprecated
        int BadVersion = -103;
        @Deprecated
        int NoChildrenForEphemerals = -108;
        @Deprecated
        int NodeExists = -110;
        @Deprecated
        int NotEmpty = -111;
        @Deprecated
        int SessionExpired = -112;
        @Deprecated
        int InvalidCallback = -113;
        @Deprecated
        int InvalidACL = -114;
        @Deprecated
        int AuthFailed = -115;
        @Deprecated
        int EphemeralOnLocalSession = -120;
    }

    /** Every error code, with ZooKeeper's numbers. */
    public enum Code implements CodeDeprecated {
        OK(0, "ok"),
        SYSTEMERROR(-1, "SystemError"),
        RUNTIMEINCONSISTENCY(-2, "RuntimeInconsistency"),
        DATAINCONSISTENCY(-3, "DataInconsistency"),
        CONNECTIONLOSS(-4, "ConnectionLoss"),
        MARSHALLINGERROR(-5, "MarshallingError"),
        UNIMPLEMENTED(-6, "Unimplemented"),
        OPERATIONTIMEOUT(-7, "OperationTimeout"),
        BADARGUMENTS(-8, "BadArguments"),
        NEWCONFIGNOQUORUM(-13, "NewConfigNoQuorum"),
        RECONFIGINPROGRESS(-14, "ReconfigInProgress"),
        UNKNOWNSESSION(-12, "Unknown session"),
        APIERROR(-100, "APIError"),
        NONODE(-101, "NoNode"),
        NOAUTH(-102, "NoAuth"),
        BADVERSION(-103, "BadVersion"),
        NOCHILDRENFOREPHEMERALS(-108, "NoChildrenForEphemerals"),
        NODEEXISTS(-110, "NodeExists"),
        NOTEMPTY(-111, "Directory not empty"),
        SESSIONEXPIRED(-112, "Session expired"),
        INVALIDCALLBACK(-113, "Invalid callback"),
        INVALIDACL(-114, "InvalidACL"),
        AUTHFAILED(-115, "AuthFailed"),
        SESSIONMOVED(-118, "Session moved"),
        NOTREADONLY(-119, "Not a read-only call"),
        EPHEMERALONLOCALSESSION(-120, "Ephemeral node on local session"),
        NOWATCHER(-121, "No such watcher"),
        REQUESTTIMEOUT(-122, "Request timeout"),
        RECONFIGDISABLED(-123, "Reconfig is disabled"),
        SESSIONCLOSEDREQUIRESASLAUTH(-124, "Session closed because client failed to authenticate"),
        QUOTAEXCEEDED(-125, "Quota has exceeded"),
        THROTTLEDOP(-127, "Op throttled due to high load");

        private static final Map<Integer, Code> BY_NUMBER = new HashMap<>();

        static {
            for (Code code : values()) {
                BY_NUMBER.put(code.code, code);
            }
        }

        private final int code;
        private final String message;

        Code(int code, String message) {
            this.code = code;
            this.message = message;
        }

        public int intValue() {
            return code;
        }

        /** The code for a number; {@link IllegalArgumentException} for a number ZooKeeper does not define. */
        public static Code get(int code) {
            Code value = BY_NUMBER.get(code);
            if (value == null) {
                throw new IllegalArgumentException("The current client version cannot lookup this code:" + code);
            }
            return value;
        }
    }

    private Code code;
    private String path;
    private String detail;
    private List<OpResult> results;

    public KeeperException(Code code) {
        this.code = code;
    }

    KeeperException(Code code, String path) {
        this.code = code;
        this.path = path;
    }

    /** The exception for {@code code} (not {@link Code#OK}), naming {@code path}. */
    public static KeeperException create(Code code, String path) {
        KeeperException exception = create(code);
        exception.path = path;
        return exception;
    }

    /** @deprecated use {@link #create(Code, String)} */
    @Deprecated
    public static KeeperException create(int code, String path) {
        return create(Code.get(code), path);
    }

    /** @deprecated use {@link #create(Code)} */
    @Deprecated
    public static KeeperException create(int code) {
        return create(Code.get(code));
    }

    /** The exception for {@code code}; {@link IllegalArgumentException} for {@link Code#OK}. */
    public static KeeperException create(Code code) {
        switch (code) {
            case SYSTEMERROR:
                return new SystemErrorException();
            case RUNTIMEINCONSISTENCY:
                return new RuntimeInconsistencyException();
            case DATAINCONSISTENCY:
                return new DataInconsistencyException();
            case CONNECTIONLOSS:
                return new ConnectionLossException();
            case MARSHALLINGERROR:
                return new MarshallingErrorException();
            case UNIMPLEMENTED:
                return new UnimplementedException();
            case OPERATIONTIMEOUT:
                return new OperationTimeoutException();
            case BADARGUMENTS:
                return new BadArgumentsException();
            case NEWCONFIGNOQUORUM:
                return new NewConfigNoQuorum();
            case RECONFIGINPROGRESS:
                return new ReconfigInProgress();
            case UNKNOWNSESSION:
                return new UnknownSessionException();
            case APIERROR:
                return new APIErrorException();
            case NONODE:
                return new NoNodeException();
            case NOAUTH:
                return new NoAuthException();
            case BADVERSION:
                return new BadVersionException();
            case NOCHILDRENFOREPHEMERALS:
                return new NoChildrenForEphemeralsException();
            case NODEEXISTS:
                return new NodeExistsException();
            case NOTEMPTY:
                return new NotEmptyException();
            case SESSIONEXPIRED:
                return new SessionExpiredException();
            case INVALIDCALLBACK:
                return new InvalidCallbackException();
            case INVALIDACL:
                return new InvalidACLException();
            case AUTHFAILED:
                return new AuthFailedException();
            case SESSIONMOVED:
                return new SessionMovedException();
            case NOTREADONLY:
                return new NotReadOnlyException();
            case EPHEMERALONLOCALSESSION:
                return new EphemeralOnLocalSessionException();
            case NOWATCHER:
                return new NoWatcherException();
            case REQUESTTIMEOUT:
                return new RequestTimeoutException();
            case RECONFIGDISABLED:
                return new ReconfigDisabledException();
            case SESSIONCLOSEDREQUIRESASLAUTH:
                return new SessionClosedRequireAuthException();
            case QUOTAEXCEEDED:
                return new QuotaExceededException();
            case THROTTLEDOP:
                return new ThrottledOpException();
            case OK:
            default:
                throw new IllegalArgumentException("Invalid exception code:" + code.code);
        }
    }

    /** @deprecated exceptions are immutable; kept for source compatibility */
    @Deprecated
    public void setCode(int code) {
        this.code = Code.get(code);
    }

    /** @deprecated use {@link #code()} */
    @Deprecated
    public int getCode() {
        return code.code;
    }

    public Code code() {
        return code;
    }

    /** The path the failed operation named, or {@code null}. */
    public String getPath() {
        return path;
    }

    /** The same as {@link #getPath()}. */
    public String path() {
        return path;
    }

    static String getCodeMessage(Code code) {
        return code.message;
    }

    @Override
    public String getMessage() {
        String text = "KeeperErrorCode = " + getCodeMessage(code);
        if (path != null && !path.isEmpty()) {
            text += " for " + path;
        }
        return detail == null ? text : text + " (" + detail + ")";
    }

    /** What only this client knows about the failure (e.g. that the client was closed). */
    void setDetail(String detail) {
        this.detail = detail;
    }

    void setMultiResults(List<OpResult> results) {
        this.results = results;
    }

    /** For a failed {@code multi}: one {@link OpResult.ErrorResult} per op, or {@code null}. */
    public List<OpResult> getResults() {
        return results == null ? null : new ArrayList<>(results);
    }

    /** @see Code#SYSTEMERROR */
    public static class SystemErrorException extends KeeperException {
        public SystemErrorException() {
            super(Code.SYSTEMERROR);
        }

        public SystemErrorException(String path) {
            super(Code.SYSTEMERROR, path);
        }
    }

    /** @see Code#RUNTIMEINCONSISTENCY */
    public static class RuntimeInconsistencyException extends KeeperException {
        public RuntimeInconsistencyException() {
            super(Code.RUNTIMEINCONSISTENCY);
        }

        public RuntimeInconsistencyException(String path) {
            super(Code.RUNTIMEINCONSISTENCY, path);
        }
    }

    /** @see Code#DATAINCONSISTENCY */
    public static class DataInconsistencyException extends KeeperException {
        public DataInconsistencyException() {
            super(Code.DATAINCONSISTENCY);
        }

        public DataInconsistencyException(String path) {
            super(Code.DATAINCONSISTENCY, path);
        }
    }

    /** @see Code#CONNECTIONLOSS */
    public static class ConnectionLossException extends KeeperException {
        public ConnectionLossException() {
            super(Code.CONNECTIONLOSS);
        }

        public ConnectionLossException(String path) {
            super(Code.CONNECTIONLOSS, path);
        }
    }

    /** @see Code#MARSHALLINGERROR */
    public static class MarshallingErrorException extends KeeperException {
        public MarshallingErrorException() {
            super(Code.MARSHALLINGERROR);
        }

        public MarshallingErrorException(String path) {
            super(Code.MARSHALLINGERROR, path);
        }
    }

    /** @see Code#UNIMPLEMENTED */
    public static class UnimplementedException extends KeeperException {
        public UnimplementedException() {
            super(Code.UNIMPLEMENTED);
        }

        public UnimplementedException(String path) {
            super(Code.UNIMPLEMENTED, path);
        }
    }

    /** @see Code#OPERATIONTIMEOUT */
    public static class OperationTimeoutException extends KeeperException {
        public OperationTimeoutException() {
            super(Code.OPERATIONTIMEOUT);
        }

        public OperationTimeoutException(String path) {
            super(Code.OPERATIONTIMEOUT, path);
        }
    }

    /** @see Code#BADARGUMENTS */
    public static class BadArgumentsException extends KeeperException {
        public BadArgumentsException() {
            super(Code.BADARGUMENTS);
        }

        public BadArgumentsException(String path) {
            super(Code.BADARGUMENTS, path);
        }
    }

    /** @see Code#NEWCONFIGNOQUORUM */
    public static class NewConfigNoQuorum extends KeeperException {
        public NewConfigNoQuorum() {
            super(Code.NEWCONFIGNOQUORUM);
        }

        public NewConfigNoQuorum(String path) {
            super(Code.NEWCONFIGNOQUORUM, path);
        }
    }

    /** @see Code#RECONFIGINPROGRESS */
    public static class ReconfigInProgress extends KeeperException {
        public ReconfigInProgress() {
            super(Code.RECONFIGINPROGRESS);
        }

        public ReconfigInProgress(String path) {
            super(Code.RECONFIGINPROGRESS, path);
        }
    }

    /** @see Code#UNKNOWNSESSION */
    public static class UnknownSessionException extends KeeperException {
        public UnknownSessionException() {
            super(Code.UNKNOWNSESSION);
        }

        public UnknownSessionException(String path) {
            super(Code.UNKNOWNSESSION, path);
        }
    }

    /** @see Code#APIERROR */
    public static class APIErrorException extends KeeperException {
        public APIErrorException() {
            super(Code.APIERROR);
        }

        public APIErrorException(String path) {
            super(Code.APIERROR, path);
        }
    }

    /** @see Code#NONODE */
    public static class NoNodeException extends KeeperException {
        public NoNodeException() {
            super(Code.NONODE);
        }

        public NoNodeException(String path) {
            super(Code.NONODE, path);
        }
    }

    /** @see Code#NOAUTH */
    public static class NoAuthException extends KeeperException {
        public NoAuthException() {
            super(Code.NOAUTH);
        }

        public NoAuthException(String path) {
            super(Code.NOAUTH, path);
        }
    }

    /** @see Code#BADVERSION */
    public static class BadVersionException extends KeeperException {
        public BadVersionException() {
            super(Code.BADVERSION);
        }

        public BadVersionException(String path) {
            super(Code.BADVERSION, path);
        }
    }

    /** @see Code#NOCHILDRENFOREPHEMERALS */
    public static class NoChildrenForEphemeralsException extends KeeperException {
        public NoChildrenForEphemeralsException() {
            super(Code.NOCHILDRENFOREPHEMERALS);
        }

        public NoChildrenForEphemeralsException(String path) {
            super(Code.NOCHILDRENFOREPHEMERALS, path);
        }
    }

    /** @see Code#NODEEXISTS */
    public static class NodeExistsException extends KeeperException {
        public NodeExistsException() {
            super(Code.NODEEXISTS);
        }

        public NodeExistsException(String path) {
            super(Code.NODEEXISTS, path);
        }
    }

    /** @see Code#NOTEMPTY */
    public static class NotEmptyException extends KeeperException {
        public NotEmptyException() {
            super(Code.NOTEMPTY);
        }

        public NotEmptyException(String path) {
            super(Code.NOTEMPTY, path);
        }
    }

    /** @see Code#SESSIONEXPIRED */
    public static class SessionExpiredException extends KeeperException {
        public SessionExpiredException() {
            super(Code.SESSIONEXPIRED);
        }

        public SessionExpiredException(String path) {
            super(Code.SESSIONEXPIRED, path);
        }
    }

    /** @see Code#INVALIDCALLBACK */
    public static class InvalidCallbackException extends KeeperException {
        public InvalidCallbackException() {
            super(Code.INVALIDCALLBACK);
        }

        public InvalidCallbackException(String path) {
            super(Code.INVALIDCALLBACK, path);
        }
    }

    /** @see Code#INVALIDACL */
    public static class InvalidACLException extends KeeperException {
        public InvalidACLException() {
            super(Code.INVALIDACL);
        }

        public InvalidACLException(String path) {
            super(Code.INVALIDACL, path);
        }
    }

    /** @see Code#AUTHFAILED */
    public static class AuthFailedException extends KeeperException {
        public AuthFailedException() {
            super(Code.AUTHFAILED);
        }

        public AuthFailedException(String path) {
            super(Code.AUTHFAILED, path);
        }
    }

    /** @see Code#SESSIONMOVED */
    public static class SessionMovedException extends KeeperException {
        public SessionMovedException() {
            super(Code.SESSIONMOVED);
        }

        public SessionMovedException(String path) {
            super(Code.SESSIONMOVED, path);
        }
    }

    /** @see Code#NOTREADONLY */
    public static class NotReadOnlyException extends KeeperException {
        public NotReadOnlyException() {
            super(Code.NOTREADONLY);
        }

        public NotReadOnlyException(String path) {
            super(Code.NOTREADONLY, path);
        }
    }

    /** @see Code#EPHEMERALONLOCALSESSION */
    public static class EphemeralOnLocalSessionException extends KeeperException {
        public EphemeralOnLocalSessionException() {
            super(Code.EPHEMERALONLOCALSESSION);
        }

        public EphemeralOnLocalSessionException(String path) {
            super(Code.EPHEMERALONLOCALSESSION, path);
        }
    }

    /** @see Code#NOWATCHER */
    public static class NoWatcherException extends KeeperException {
        public NoWatcherException() {
            super(Code.NOWATCHER);
        }

        public NoWatcherException(String path) {
            super(Code.NOWATCHER, path);
        }
    }

    /** @see Code#REQUESTTIMEOUT */
    public static class RequestTimeoutException extends KeeperException {
        public RequestTimeoutException() {
            super(Code.REQUESTTIMEOUT);
        }

        public RequestTimeoutException(String path) {
            super(Code.REQUESTTIMEOUT, path);
        }
    }

    /** @see Code#RECONFIGDISABLED */
    public static class ReconfigDisabledException extends KeeperException {
        public ReconfigDisabledException() {
            super(Code.RECONFIGDISABLED);
        }

        public ReconfigDisabledException(String path) {
            super(Code.RECONFIGDISABLED, path);
        }
    }

    /** @see Code#SESSIONCLOSEDREQUIRESASLAUTH */
    public static class SessionClosedRequireAuthException extends KeeperException {
        public SessionClosedRequireAuthException() {
            super(Code.SESSIONCLOSEDREQUIRESASLAUTH);
        }

        public SessionClosedRequireAuthException(String path) {
            super(Code.SESSIONCLOSEDREQUIRESASLAUTH, path);
        }
    }

    /** @see Code#QUOTAEXCEEDED */
    public static class QuotaExceededException extends KeeperException {
        public QuotaExceededException() {
            super(Code.QUOTAEXCEEDED);
        }

        public QuotaExceededException(String path) {
            super(Code.QUOTAEXCEEDED, path);
        }
    }

    /** @see Code#THROTTLEDOP */
    public static class ThrottledOpException extends KeeperException {
        public ThrottledOpException() {
            super(Code.THROTTLEDOP);
        }

        public ThrottledOpException(String path) {
            super(Code.THROTTLEDOP, path);
        }
    }
}
