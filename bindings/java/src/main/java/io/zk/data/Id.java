package io.zk.data;

import java.util.Objects;

/** An identity {@code scheme:id}, as Apache's {@code org.apache.zookeeper.data.Id}. */
public class Id {
    private String scheme;
    private String id;

    public Id() {}

    public Id(String scheme, String id) {
        this.scheme = scheme;
        this.id = id;
    }

    public String getScheme() { return scheme; }
    public void setScheme(String scheme) { this.scheme = scheme; }
    public String getId() { return id; }
    public void setId(String id) { this.id = id; }

    @Override
    public boolean equals(Object other) {
        return other instanceof Id && Objects.equals(scheme, ((Id) other).scheme)
            && Objects.equals(id, ((Id) other).id);
    }

    @Override
    public int hashCode() {
        return Objects.hash(scheme, id);
    }

    @Override
    public String toString() {
        return "'" + scheme + ",'" + id + "\n";
    }
}
