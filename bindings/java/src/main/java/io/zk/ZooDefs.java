package io.zk;

import io.zk.data.ACL;
import io.zk.data.Id;
import java.util.ArrayList;
import java.util.List;

/** Constants of the protocol, as Apache's {@code org.apache.zookeeper.ZooDefs}. */
public class ZooDefs {
    public static final String CONFIG_NODE = "/zookeeper/config";
    public static final String ZOOKEEPER_NODE_SUBTREE = "/zookeeper/";

    /** Request types. */
    public interface OpCode {
        int notification = 0;
        int create = 1;
        int delete = 2;
        int exists = 3;
        int getData = 4;
        int setData = 5;
        int getACL = 6;
        int setACL = 7;
        int getChildren = 8;
        int sync = 9;
        int ping = 11;
        int getChildren2 = 12;
        int check = 13;
        int multi = 14;
        int create2 = 15;
        int reconfig = 16;
        int checkWatches = 17;
        int removeWatches = 18;
        int createContainer = 19;
        int deleteContainer = 20;
        int createTTL = 21;
        int multiRead = 22;
        int auth = 100;
        int setWatches = 101;
        int sasl = 102;
        int getEphemerals = 103;
        int getAllChildrenNumber = 104;
        int setWatches2 = 105;
        int addWatch = 106;
        int whoAmI = 107;
        int createSession = -10;
        int closeSession = -11;
        int error = -1;
    }

    /** ACL permission bits. */
    public interface Perms {
        int READ = 1;
        int WRITE = 1 << 1;
        int CREATE = 1 << 2;
        int DELETE = 1 << 3;
        int ADMIN = 1 << 4;
        int ALL = READ | WRITE | CREATE | DELETE | ADMIN;
    }

    /** Well-known identities and ACLs. */
    public interface Ids {
        /** Anyone ({@code world:anyone}). */
        Id ANYONE_ID_UNSAFE = new Id("world", "anyone");
        /** Whoever the session authenticated as ({@code auth:}). */
        Id AUTH_IDS = new Id("auth", "");
        /** Everything allowed to anyone. */
        ArrayList<ACL> OPEN_ACL_UNSAFE = new ArrayList<>(List.of(new ACL(Perms.ALL, ANYONE_ID_UNSAFE)));
        /** Everything allowed to the creator's authenticated identities. */
        ArrayList<ACL> CREATOR_ALL_ACL = new ArrayList<>(List.of(new ACL(Perms.ALL, AUTH_IDS)));
        /** Read allowed to anyone. */
        ArrayList<ACL> READ_ACL_UNSAFE = new ArrayList<>(List.of(new ACL(Perms.READ, ANYONE_ID_UNSAFE)));
    }

    /** {@link AddWatchMode} numbers. */
    public interface AddWatchModes {
        int persistent = 0;
        int persistentRecursive = 1;
    }
}
