/* lock: mutual exclusion between processes (here: threads with their own sessions)
 * with the zk_lock recipe (Curator's InterProcessMutex layout, so it also excludes
 * Curator and kazoo clients).
 *
 *   lock HOST:PORT [WORKERS] [ROUNDS]
 *
 * Each worker takes the lock ROUNDS times and, while holding it, does a read-modify-
 * write of a counter node with no version check: only the lock keeps updates from
 * being lost. At the end the counter must be WORKERS * ROUNDS. */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk.h"

#define LOCK_PATH "/example-lock"
#define COUNTER "/example-lock-counter"

static const char *hosts;
static int rounds = 5;

static long read_counter(zk_handle *zh) {
    uint8_t *data = NULL;
    size_t len = 0;
    if (zk_get(zh, COUNTER, NULL, NULL, &data, &len, NULL) != ZK_OK) return -1;
    long value = atol((const char *)data); /* library data is NUL-terminated */
    zk_free_bytes(data);
    return value;
}

static void *worker(void *arg) {
    long id = (long)arg, failures = 0;
    zk_handle *zh = NULL;
    zk_lock *lock = NULL;
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK ||
        zk_lock_new(zh, LOCK_PATH, &lock) != ZK_OK) {
        zk_close(zh);
        return (void *)1;
    }
    for (int i = 0; i < rounds; i++) {
        int held = 0;
        int rc = zk_lock_acquire(lock, 10000, &held);
        if (rc != ZK_OK || !held) {
            fprintf(stderr, "worker %ld: acquire: %s\n", id, zk_error_string(rc));
            failures++;
            continue;
        }
        long value = read_counter(zh);
        char text[32];
        int n = snprintf(text, sizeof text, "%ld", value + 1);
        if (zk_set(zh, COUNTER, (const uint8_t *)text, (size_t)n, -1, NULL) != ZK_OK) failures++;
        int64_t token = -1;
        zk_lock_fencing_token(lock, &token); /* getters return zk_rc, value via out-pointer */
        printf("worker %ld holds the lock (token %lld): counter %ld -> %ld\n", id, (long long)token,
               value, value + 1);
        zk_lock_release(lock);
    }
    zk_lock_free(lock);
    zk_close(zh);
    return (void *)failures;
}

int main(int argc, char **argv) {
    hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    int workers = argc > 2 ? atoi(argv[2]) : 3;
    if (argc > 3) rounds = atoi(argv[3]);
    if (!hosts || workers < 1 || workers > 32) {
        fprintf(stderr, "usage: lock HOST:PORT [WORKERS<=32] [ROUNDS]\n");
        return 2;
    }
    zk_handle *zh = NULL;
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK ||
        zk_wait_connected(zh, 10000) != ZK_OK) {
        fprintf(stderr, "cannot connect to %s\n", hosts);
        zk_close(zh);
        return 1;
    }
    int rc = zk_create(zh, COUNTER, (const uint8_t *)"0", 1, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL);
    if (rc == ZK_NODEEXISTS) rc = zk_set(zh, COUNTER, (const uint8_t *)"0", 1, -1, NULL);
    if (rc != ZK_OK) {
        fprintf(stderr, "counter: %s\n", zk_error_string(rc));
        zk_close(zh);
        return 1;
    }
    pthread_t threads[32];
    for (long i = 0; i < workers; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    long failures = 0;
    for (int i = 0; i < workers; i++) {
        void *f = NULL;
        pthread_join(threads[i], &f);
        failures += (long)f;
    }
    long total = read_counter(zh);
    zk_close(zh);
    int ok = failures == 0 && total == (long)workers * rounds;
    printf("counter %ld, expected %ld: %s\n", total, (long)workers * rounds, ok ? "lock: ok" : "lock: FAILED");
    return ok ? 0 : 1;
}
