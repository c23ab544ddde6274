package io.zk;

/** The seven create modes, with Apache's names and flag numbers ({@code org.apache.zookeeper.CreateMode}). */
public enum CreateMode {
    PERSISTENT(0, false, false, false, false),
    PERSISTENT_SEQUENTIAL(2, false, true, false, false),
    EPHEMERAL(1, true, false, false, false),
    EPHEMERAL_SEQUENTIAL(3, true, true, false, false),
    CONTAINER(4, false, false, true, false),
    PERSISTENT_WITH_TTL(5, false, false, false, true),
    PERSISTENT_SEQUENTIAL_WITH_TTL(6, false, true, false, true);

    private final int flag;
    private final boolean ephemeral;
    private final boolean sequential;
    private final boolean container;
    private final boolean ttl;

    CreateMode(int flag, boolean ephemeral, boolean sequential, boolean container, boolean ttl) {
        this.flag = flag;
        this.ephemeral = ephemeral;
        this.sequential = sequential;
        this.container = container;
        this.ttl = ttl;
    }

    public boolean isEphemeral() {
        return ephemeral;
    }

    public boolean isSequential() {
        return sequential;
    }

    public boolean isContainer() {
        return container;
    }

    public boolean isTTL() {
        return ttl;
    }

    public int toFlag() {
        return flag;
    }

    /** The mode for a flag number; {@link KeeperException.BadArgumentsException} for an unknown one. */
    public static CreateMode fromFlag(int flag) throws KeeperException {
        for (CreateMode mode : values()) {
            if (mode.flag == flag) {
                return mode;
            }
        }
        throw new KeeperException.BadArgumentsException("Received an invalid flag value: " + flag + " to convert to a CreateMode");
    }

    /** The mode for a flag number, or {@code defaultMode} for an unknown one. */
    public static CreateMode fromFlag(int flag, CreateMode defaultMode) {
        for (CreateMode mode : values()) {
            if (mode.flag == flag) {
                return mode;
            }
        }
        return defaultMode;
    }
}
