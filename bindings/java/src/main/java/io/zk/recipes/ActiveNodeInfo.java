package io.zk.recipes;

import java.util.Objects;

/**
 * Hadoop's {@code ActiveNodeInfo} (hadoop-hdfs {@code HAZKInfo.proto}): what HDFS failover
 * controllers store in the elector's lock and breadcrumb. {@link #encode} gives the bytes
 * protobuf-java writes for the same values, so ours and Hadoop's controllers read and fence each
 * other; the codec is the core's ({@code zk_core::recipes::elector::ActiveNodeInfo}).
 */
public record ActiveNodeInfo(String nameserviceId, String namenodeId, String hostname, int port, int zkfcPort) {
    public ActiveNodeInfo {
        Objects.requireNonNull(nameserviceId, "nameserviceId");
        Objects.requireNonNull(namenodeId, "namenodeId");
        Objects.requireNonNull(hostname, "hostname");
    }

    /** The protobuf encoding. */
    public byte[] encode() {
        return ElectorNative.encodeNodeInfo(nameserviceId, namenodeId, hostname, port, zkfcPort);
    }

    /**
     * Parses the protobuf encoding (every field is required, as protobuf-java's {@code parseFrom}
     * requires them).
     *
     * @throws IllegalArgumentException when the bytes are not an ActiveNodeInfo
     */
    public static ActiveNodeInfo decode(byte[] data) {
        Object[] parts = ElectorNative.decodeNodeInfo(Objects.requireNonNull(data, "data"));
        int[] ports = (int[]) parts[3];
        return new ActiveNodeInfo((String) parts[0], (String) parts[1], (String) parts[2], ports[0], ports[1]);
    }

    /** {@code nameservice/namenode at host:port}, for logs. */
    @Override
    public String toString() {
        return nameserviceId + "/" + namenodeId + " at " + hostname + ":" + port;
    }
}
