package interop;

import java.util.concurrent.Callable;

/** Both lockers start their rounds only once both are up, so they really contend. */
final class Rendezvous {
    private Rendezvous() {}

    static void meet(Callable<Integer> present, Callable<?> arrive) throws Exception {
        arrive.call();
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (present.call() < 2) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the other locker never came");
            }
            Thread.sleep(10);
        }
    }
}
