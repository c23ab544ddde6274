package io.zk;

import io.zk.data.Stat;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/** The result of one {@link Op} of a multi, as Apache's {@code org.apache.zookeeper.OpResult}. */
public abstract class OpResult {
    private final int type;

    private OpResult(int type) {
        this.type = type;
    }

    /** The {@link ZooDefs.OpCode} of the op ({@code error} for an {@link ErrorResult}). */
    public int getType() {
        return type;
    }

    public static class CreateResult extends OpResult {
        private final String path;
        private final Stat stat;

        public CreateResult(String path) {
            this(ZooDefs.OpCode.create, path, null);
        }

        public CreateResult(String path, Stat stat) {
            this(ZooDefs.OpCode.create2, path, stat);
        }

        public CreateResult(int opcode, String path, Stat stat) {
            super(opcode);
            this.path = path;
            this.stat = stat;
        }

        /** The created path, with any sequence suffix. */
        public String getPath() {
            return path;
        }

        public Stat getStat() {
            return stat;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof CreateResult && getType() == ((CreateResult) o).getType()
                && Objects.equals(path, ((CreateResult) o).path) && Objects.equals(stat, ((CreateResult) o).stat);
        }

        @Override
        public int hashCode() {
            return Objects.hash(getType(), path, stat);
        }
    }

    public static class DeleteResult extends OpResult {
        public DeleteResult() {
            super(ZooDefs.OpCode.delete);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof DeleteResult;
        }

        @Override
        public int hashCode() {
            return getType();
        }
    }

    public static class SetDataResult extends OpResult {
        private final Stat stat;

        public SetDataResult(Stat stat) {
            super(ZooDefs.OpCode.setData);
            this.stat = stat;
        }

        public Stat getStat() {
            return stat;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof SetDataResult && Objects.equals(stat, ((SetDataResult) o).stat);
        }

        @Override
        public int hashCode() {
            return Objects.hash(getType(), stat);
        }
    }

    public static class CheckResult extends OpResult {
        public CheckResult() {
            super(ZooDefs.OpCode.check);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof CheckResult;
        }

        @Override
        public int hashCode() {
            return getType();
        }
    }

    public static class GetDataResult extends OpResult {
        private final byte[] data;
        private final Stat stat;

        public GetDataResult(byte[] data, Stat stat) {
            super(ZooDefs.OpCode.getData);
            this.data = data;
            this.stat = stat;
        }

        public byte[] getData() {
            return data == null ? null : Arrays.copyOf(data, data.length);
        }

        public Stat getStat() {
            return stat;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GetDataResult && Arrays.equals(data, ((GetDataResult) o).data)
                && Objects.equals(stat, ((GetDataResult) o).stat);
        }

        @Override
        public int hashCode() {
            return Objects.hash(getType(), Arrays.hashCode(data), stat);
        }
    }

    public static class GetChildrenResult extends OpResult {
        private final List<String> children;

        public GetChildrenResult(List<String> children) {
            super(ZooDefs.OpCode.getChildren);
            this.children = children;
        }

        public List<String> getChildren() {
            return children;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GetChildrenResult && Objects.equals(children, ((GetChildrenResult) o).children);
        }

        @Override
        public int hashCode() {
            return Objects.hash(getType(), children);
        }
    }

    /** A failed op, or (in a failed multi) an op that was not applied: {@link #getErr()} is its code. */
    public static class ErrorResult extends OpResult {
        private final int err;

        public ErrorResult(int err) {
            super(ZooDefs.OpCode.error);
            this.err = err;
        }

        public int getErr() {
            return err;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ErrorResult && err == ((ErrorResult) o).err;
        }

        @Override
        public int hashCode() {
            return Objects.hash(getType(), err);
        }
    }
}
