package io.zk.recipes;

import io.zk.data.Stat;
import java.util.Arrays;

/** A cached node: its path, data and Stat (as Curator's {@code ChildData}). */
public final class ChildData {
    private final String path;
    private final byte[] data;
    private final Stat stat;

    public ChildData(String path, byte[] data, Stat stat) {
        this.path = path;
        this.data = data;
        this.stat = stat;
    }

    public String getPath() {
        return path;
    }

    public byte[] getData() {
        return data == null ? null : Arrays.copyOf(data, data.length);
    }

    public Stat getStat() {
        return stat;
    }

    @Override
    public String toString() {
        return "ChildData{path=" + path + ", bytes=" + (data == null ? 0 : data.length) + ", version="
            + (stat == null ? -1 : stat.getVersion()) + "}";
    }
}
