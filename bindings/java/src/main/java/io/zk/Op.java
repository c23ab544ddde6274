package io.zk;

import io.zk.data.ACL;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One operation of a {@link ZooKeeper#multi multi}, as Apache's {@code org.apache.zookeeper.Op}:
 * writes (create, delete, setData, check) are applied all or none; reads (getData, getChildren)
 * form a multi-read, where each succeeds or fails on its own. The two kinds cannot be mixed.
 */
public abstract class Op {

    /** Whether an op writes or reads. */
    public enum OpKind {
        TRANSACTION,
        READ
    }

    private final int type;
    private final String path;
    private final OpKind kind;

    private Op(int type, String path, OpKind kind) {
        this.type = type;
        this.path = path;
        this.kind = kind;
    }

    public static Op create(String path, byte[] data, List<ACL> acl, int flags) {
        return new Create(path, data, acl, CreateMode.fromFlag(flags, CreateMode.PERSISTENT), -1);
    }

    public static Op create(String path, byte[] data, List<ACL> acl, int flags, long ttl) {
        return new Create(path, data, acl, CreateMode.fromFlag(flags, CreateMode.PERSISTENT), ttl);
    }

    public static Op create(String path, byte[] data, List<ACL> acl, CreateMode createMode) {
        return new Create(path, data, acl, createMode, -1);
    }

    public static Op create(String path, byte[] data, List<ACL> acl, CreateMode createMode, long ttl) {
        return new Create(path, data, acl, createMode, ttl);
    }

    public static Op delete(String path, int version) {
        return new Delete(path, version);
    }

    public static Op setData(String path, byte[] data, int version) {
        return new SetData(path, data, version);
    }

    public static Op check(String path, int version) {
        return new Check(path, version);
    }

    public static Op getData(String path) {
        return new GetData(path);
    }

    public static Op getChildren(String path) {
        return new GetChildren(path);
    }

    /** The {@link ZooDefs.OpCode} of this op. */
    public int getType() {
        return type;
    }

    public String getPath() {
        return path;
    }

    public OpKind getKind() {
        return kind;
    }

    /** A create, in any mode; with TTL modes, {@code ttl} milliseconds. */
    public static class Create extends Op {
        final byte[] data;
        final List<ACL> acl;
        final CreateMode mode;
        final long ttl;

        Create(String path, byte[] data, List<ACL> acl, CreateMode mode, long ttl) {
            super(mode.isContainer() ? ZooDefs.OpCode.createContainer
                : mode.isTTL() ? ZooDefs.OpCode.createTTL : ZooDefs.OpCode.create2, path, OpKind.TRANSACTION);
            this.data = data;
            this.acl = acl;
            this.mode = mode;
            this.ttl = ttl;
        }

        public CreateMode getMode() {
            return mode;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Create && Objects.equals(getPath(), ((Create) o).getPath())
                && Arrays.equals(data, ((Create) o).data) && Objects.equals(acl, ((Create) o).acl)
                && mode == ((Create) o).mode && ttl == ((Create) o).ttl;
        }

        @Override
        public int hashCode() {
            return Objects.hash(getPath(), Arrays.hashCode(data), acl, mode, ttl);
        }
    }

    public static class Delete extends Op {
        final int version;

        Delete(String path, int version) {
            super(ZooDefs.OpCode.delete, path, OpKind.TRANSACTION);
            this.version = version;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Delete && Objects.equals(getPath(), ((Delete) o).getPath())
                && version == ((Delete) o).version;
        }

        @Override
        public int hashCode() {
            return Objects.hash(getPath(), version);
        }
    }

    public static class SetData extends Op {
        final byte[] data;
        final int version;

        SetData(String path, byte[] data, int version) {
            super(ZooDefs.OpCode.setData, path, OpKind.TRANSACTION);
            this.data = data;
            this.version = version;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SetData && Objects.equals(getPath(), ((SetData) o).getPath())
                && Arrays.equals(data, ((SetData) o).data) && version == ((SetData) o).version;
        }

        @Override
        public int hashCode() {
            return Objects.hash(getPath(), Arrays.hashCode(data), version);
        }
    }

    public static class Check extends Op {
        final int version;

        Check(String path, int version) {
            super(ZooDefs.OpCode.check, path, OpKind.TRANSACTION);
            this.version = version;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Check && Objects.equals(getPath(), ((Check) o).getPath())
                && version == ((Check) o).version;
        }

        @Override
        public int hashCode() {
            return Objects.hash(getPath(), version);
        }
    }

    public static class GetData extends Op {
        GetData(String path) {
            super(ZooDefs.OpCode.getData, path, OpKind.READ);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GetData && Objects.equals(getPath(), ((GetData) o).getPath());
        }

        @Override
        public int hashCode() {
            return Objects.hash("getData", getPath());
        }
    }

    public static class GetChildren extends Op {
        GetChildren(String path) {
            super(ZooDefs.OpCode.getChildren, path, OpKind.READ);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GetChildren && Objects.equals(getPath(), ((GetChildren) o).getPath());
        }

        @Override
        public int hashCode() {
            return Objects.hash("getChildren", getPath());
        }
    }
}
