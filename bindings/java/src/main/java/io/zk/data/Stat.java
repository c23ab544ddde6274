package io.zk.data;

import java.util.Objects;

/** A znode's metadata, with the getters and setters of Apache's {@code org.apache.zookeeper.data.Stat}. */
public class Stat {
    private long czxid;
    private long mzxid;
    private long ctime;
    private long mtime;
    private int version;
    private int cversion;
    private int aversion;
    private long ephemeralOwner;
    private int dataLength;
    private int numChildren;
    private long pzxid;

    public Stat() {}

    public Stat(long czxid, long mzxid, long ctime, long mtime, int version, int cversion, int aversion,
                long ephemeralOwner, int dataLength, int numChildren, long pzxid) {
        this.czxid = czxid;
        this.mzxid = mzxid;
        this.ctime = ctime;
        this.mtime = mtime;
        this.version = version;
        this.cversion = cversion;
        this.aversion = aversion;
        this.ephemeralOwner = ephemeralOwner;
        this.dataLength = dataLength;
        this.numChildren = numChildren;
        this.pzxid = pzxid;
    }

    public long getCzxid() { return czxid; }
    public void setCzxid(long czxid) { this.czxid = czxid; }
    public long getMzxid() { return mzxid; }
    public void setMzxid(long mzxid) { this.mzxid = mzxid; }
    public long getCtime() { return ctime; }
    public void setCtime(long ctime) { this.ctime = ctime; }
    public long getMtime() { return mtime; }
    public void setMtime(long mtime) { this.mtime = mtime; }
    public int getVersion() { return version; }
    public void setVersion(int version) { this.version = version; }
    public int getCversion() { return cversion; }
    public void setCversion(int cversion) { this.cversion = cversion; }
    public int getAversion() { return aversion; }
    public void setAversion(int aversion) { this.aversion = aversion; }
    public long getEphemeralOwner() { return ephemeralOwner; }
    public void setEphemeralOwner(long ephemeralOwner) { this.ephemeralOwner = ephemeralOwner; }
    public int getDataLength() { return dataLength; }
    public void setDataLength(int dataLength) { this.dataLength = dataLength; }
    public int getNumChildren() { return numChildren; }
    public void setNumChildren(int numChildren) { this.numChildren = numChildren; }
    public long getPzxid() { return pzxid; }
    public void setPzxid(long pzxid) { this.pzxid = pzxid; }

    @Override
    public boolean equals(Object other) {
        if (this == other) {
            return true;
        }
        if (!(other instanceof Stat)) {
            return false;
        }
        Stat s = (Stat) other;
        return czxid == s.czxid && mzxid == s.mzxid && ctime == s.ctime && mtime == s.mtime
            && version == s.version && cversion == s.cversion && aversion == s.aversion
            && ephemeralOwner == s.ephemeralOwner && dataLength == s.dataLength
            && numChildren == s.numChildren && pzxid == s.pzxid;
    }

    @Override
    public int hashCode() {
        return Objects.hash(czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner,
            dataLength, numChildren, pzxid);
    }

    /** The fields in declaration order, comma separated, as Apache's jute records print. */
    @Override
    public String toString() {
        return czxid + "," + mzxid + "," + ctime + "," + mtime + "," + version + "," + cversion + ","
            + aversion + "," + ephemeralOwner + "," + dataLength + "," + numChildren + "," + pzxid + "\n";
    }
}
