/* election: leader election, the classic recipe written out. Each contender (a thread
 * with its own session) creates an ephemeral sequential node; the lowest leads; every
 * other contender watches only the node just before its own, so when the leader goes
 * exactly one contender wakes up (no herd effect). zk_leader packages the same
 * algorithm on Curator's layout.
 *
 *   election HOST:PORT [CONTENDERS] */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zk.h"

#define MAX 16

static const char *hosts;
static char dir[64];
static volatile int wakeups, leader = -1, resign = -1, in_line;
static volatile int gone[MAX]; /* set by contender i's watch (which may fire up to close) */

static int load(volatile int *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Watcher: the watched predecessor changed (deleted); runs on the dispatch thread. */
static void on_change(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    (void)zh, (void)type, (void)state, (void)path;
    __atomic_store_n((volatile int *)ctx, 1, __ATOMIC_SEQ_CST);
}

static void *contend(void *arg) {
    long id = (long)arg;
    zk_handle *zh = NULL;
    char prefix[96], *path = NULL;
    snprintf(prefix, sizeof prefix, "%s/n_", dir);
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK ||
        zk_create(zh, prefix, NULL, 0, NULL, 0, ZK_EPHEMERAL_SEQUENTIAL, 0, &path, NULL) != ZK_OK) {
        zk_close(zh);
        return (void *)1;
    }
    const char *me = strrchr(path, '/') + 1;
    int placed = 0; /* counted in in_line: leading or watching its predecessor */
    for (;;) {
        zk_strings *line = NULL;
        if (zk_get_children(zh, dir, NULL, NULL, &line, NULL) != ZK_OK) break;
        qsort(line->items, line->len, sizeof *line->items, by_text); /* ten-digit suffixes sort as text */
        size_t pos = 0;
        while (pos < line->len && strcmp(line->items[pos], me) != 0) pos++;
        if (pos == 0) {
            printf("contender %ld (%s) leads\n", id, me);
            zk_free_strings(line);
            if (!placed++) __atomic_add_fetch(&in_line, 1, __ATOMIC_SEQ_CST);
            __atomic_store_n(&leader, (int)id, __ATOMIC_SEQ_CST);
            while (load(&resign) != id && load(&resign) != -2) usleep(2000);
            break; /* stepping down: closing the session deletes our node */
        }
        char before[160];
        __atomic_store_n(&gone[id], 0, __ATOMIC_SEQ_CST);
        snprintf(before, sizeof before, "%s/%s", dir, line->items[pos - 1]);
        printf("contender %ld (%s) watches %s\n", id, me, line->items[pos - 1]);
        zk_free_strings(line);
        int rc = zk_exists(zh, before, on_change, (void *)&gone[id], NULL);
        if (rc == ZK_NONODE) continue; /* already gone */
        if (rc != ZK_OK) break;
        if (!placed++) __atomic_add_fetch(&in_line, 1, __ATOMIC_SEQ_CST);
        while (!load(&gone[id])) usleep(2000);
        __atomic_add_fetch(&wakeups, 1, __ATOMIC_SEQ_CST);
        printf("contender %ld woke up: %s is gone\n", id, before);
    }
    zk_free_string(path);
    zk_close(zh);
    return NULL;
}

int main(int argc, char **argv) {
    hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    int n = argc > 2 ? atoi(argv[2]) : 4, ok = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!hosts || n < 1 || n > MAX) {
        fprintf(stderr, "usage: election HOST:PORT [CONTENDERS<=16]\n");
        return 2;
    }
    zk_handle *zh = NULL;
    /* A directory of our own, so nodes a killed earlier run left behind are not in line. */
    snprintf(dir, sizeof dir, "/example-election-%d", (int)getpid());
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK || zk_wait_connected(zh, 10000) != ZK_OK ||
        zk_create(zh, dir, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL) != ZK_OK) {
        fprintf(stderr, "cannot connect to %s\n", hosts);
        zk_close(zh);
        return 1;
    }
    pthread_t threads[MAX];
    for (long i = 0; i < n; i++) pthread_create(&threads[i], NULL, contend, (void *)i);
    /* Nobody steps down before every contender leads or watches its predecessor. */
    for (int t = 0; t < 3000 && load(&in_line) < n; t++) usleep(10000);
    if (load(&in_line) < n) {
        printf("election: FAILED (the contenders did not get in line)\n");
        return 1;
    }
    for (int round = 0; round < n && ok; round++) {
        int who = -1;
        for (int t = 0; t < 3000 && (who = load(&leader)) < 0; t++) usleep(10000);
        if (who < 0) ok = 0;
        printf("round %d: contender %d leads; contenders woken so far: %d\n", round, who, load(&wakeups));
        ok = ok && load(&wakeups) == round; /* each resignation woke exactly one contender */
        __atomic_store_n(&leader, -1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&resign, who, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&resign, -2, __ATOMIC_SEQ_CST);
    for (int i = 0; i < n && ok; i++) pthread_join(threads[i], NULL);
    zk_delete(zh, dir, -1);
    zk_close(zh);
    printf("election: %s (each change of leader woke exactly one contender)\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
