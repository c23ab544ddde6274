package io.zk.recipes;

import io.zk.KeeperException;
import io.zk.ZooKeeper;
import io.zk.internal.Bridge;
import java.lang.ref.Cleaner;

/** What every recipe object shares: its native object, freed on close or when unreachable. */
abstract class Recipe implements AutoCloseable {
    static final Cleaner CLEANER = Cleaner.create();

    final long id;
    private final Cleaner.Cleanable cleanable;

    Recipe(long id) {
        this.id = id;
        this.cleanable = CLEANER.register(this, new Free(id));
    }

    static long handle(ZooKeeper zk) {
        return Bridge.handle(zk);
    }

    /** Frees the native object (a held lock or membership ends in the background). */
    @Override
    public void close() throws KeeperException, InterruptedException {
        cleanable.clean();
    }

    private static final class Free implements Runnable {
        private final long id;

        Free(long id) {
            this.id = id;
        }

        @Override
        public void run() {
            RecipeNative.free(id);
        }
    }

    /** Creates a native recipe object; a closed client fails with {@link IllegalStateException}. */
    interface Creation {
        long create() throws KeeperException;
    }

    static long created(Creation creation) {
        try {
            return creation.create();
        } catch (KeeperException e) {
            throw new IllegalStateException("cannot create the recipe: " + e.getMessage(), e);
        }
    }

    static long millis(long time, java.util.concurrent.TimeUnit unit) {
        return Math.max(0, unit.toMillis(time));
    }
}
