package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Membership of a group on Curator's {@code GroupMember} layout ({@code <group>/<member id>},
 * ephemeral, data = the member's data): a member leaves when it closes or its session ends.
 */
public final class Group extends Recipe {
    private final String memberId;

    private Group(long id, String memberId) {
        super(id);
        this.memberId = memberId;
    }

    /** Joins {@code group} as {@code memberId}; NodeExists if another session is a member under that id. */
    public static Group join(ZooKeeper zk, String group, String memberId, byte[] data)
        throws KeeperException, InterruptedException {
        return new Group(RecipeNative.groupJoin(handle(zk), group, memberId, data), memberId);
    }

    /** The members of {@code group} and their data, by id. */
    public static Map<String, byte[]> members(ZooKeeper zk, String group) throws KeeperException, InterruptedException {
        Object[] parts = RecipeNative.groupMembers(handle(zk), group);
        String[] ids = (String[]) parts[0];
        Object[] datas = (Object[]) parts[1];
        Map<String, byte[]> members = new LinkedHashMap<>();
        for (int i = 0; i < ids.length; i++) {
            members.put(ids[i], (byte[]) datas[i]);
        }
        return members;
    }

    public String id() {
        return memberId;
    }

    /** Replaces this member's data. */
    public void setData(byte[] data) throws KeeperException, InterruptedException {
        RecipeNative.groupSetData(id, data);
    }

    /** Leaves the group (deletes the member node). */
    public void leave() throws KeeperException, InterruptedException {
        RecipeNative.groupLeave(id);
        super.close();
    }

    @Override
    public void close() throws KeeperException, InterruptedException {
        leave();
    }
}
