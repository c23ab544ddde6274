package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A candidate for leadership until closed, on Curator's {@code LeaderLatch} layout
 * ({@code <path>/_c_<uuid>-latch-<seq>}, data = the participant id): the leader is the
 * candidate with the lowest node. Leadership ends as soon as the client is disconnected, and
 * comes back after a reconnect if the session (and so the node) survived. Listeners run on the
 * client's event thread.
 */
public final class LeaderLatch extends Recipe {

    /** Told of changes of standing. */
    public interface Listener {
        /** This participant leads; the token grows with every new leader. */
        void isLeader(long fencingToken);

        void notLeader();
    }

    /** A participant, as its node's data names it. */
    public record Participant(String id, boolean isLeader) {}

    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final long token;
    private volatile boolean closed;

    private LeaderLatch(long id) {
        super(id);
        token = RecipeUpcalls.register((what, value, node) -> {
            for (Listener listener : listeners) {
                if (what == RecipeUpcalls.LEADER) {
                    listener.isLeader(value);
                } else if (what == RecipeUpcalls.NOT_LEADER) {
                    listener.notLeader();
                }
            }
        });
        RecipeNative.latchWatch(id, token);
    }

    /** Joins the election at {@code path} as {@code participantId}; returns once the latch node exists. */
    public static LeaderLatch start(ZooKeeper zk, String path, String participantId)
        throws KeeperException, InterruptedException {
        return new LeaderLatch(RecipeNative.latchStart(handle(zk), path, participantId));
    }

    public void addListener(Listener listener) {
        listeners.add(listener);
    }

    public void removeListener(Listener listener) {
        listeners.remove(listener);
    }

    public boolean hasLeadership() {
        return !closed && RecipeNative.latchToken(id) >= 0;
    }

    /** The fencing token while leading (the latch node's czxid), -1 otherwise. */
    public long fencingToken() {
        return closed ? -1 : RecipeNative.latchToken(id);
    }

    /** Waits until leading. */
    public void await() throws KeeperException, InterruptedException {
        RecipeNative.latchAwait(id, -1);
    }

    /** Waits until leading: true, or false if {@code time} passed first. */
    public boolean await(long time, TimeUnit unit) throws KeeperException, InterruptedException {
        return RecipeNative.latchAwait(id, millis(time, unit));
    }

    /** Every participant in line order; the first leads. */
    public List<Participant> getParticipants() throws KeeperException, InterruptedException {
        Object[] parts = RecipeNative.latchParticipants(id);
        String[] ids = (String[]) parts[0];
        int[] leaders = (int[]) parts[1];
        List<Participant> participants = new ArrayList<>(ids.length);
        for (int i = 0; i < ids.length; i++) {
            participants.add(new Participant(ids[i], leaders[i] != 0));
        }
        return participants;
    }

    /** Leaves the election (deletes the latch node). */
    @Override
    public void close() throws KeeperException, InterruptedException {
        if (!closed) {
            closed = true;
            RecipeNative.latchClose(id);
            RecipeUpcalls.unregister(token);
            super.close();
        }
    }
}
