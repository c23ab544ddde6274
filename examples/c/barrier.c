/* barrier: a double barrier, written out. Participants (threads with their own sessions)
 * enter by creating an ephemeral node under DIR/members; the last to arrive creates
 * DIR/ready, which everyone waits for: nobody starts before all have arrived. To leave,
 * each deletes its node and waits until no member node is left: nobody goes on before
 * all have finished.
 *
 *   barrier HOST:PORT [PARTICIPANTS] */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zk.h"

#define MAX 16

static const char *hosts;
static char dir[64], members[96], ready[96];
static int n;
static volatile int arrived, finished, changed[MAX];

static int load(volatile int *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }
static void bump(volatile int *v) { __atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST); }

static void on_change(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    (void)zh, (void)type, (void)state, (void)path;
    bump((volatile int *)ctx);
}

/* Waits until `done` holds, re-checking on every change of DIR/members or DIR/ready. */
static int wait_until(zk_handle *zh, long id, int (*done)(zk_handle *, long)) {
    for (int64_t t = 0; t < 3000; t++) {
        int seen = load(&changed[id]);
        if (done(zh, id)) return 1;
        while (load(&changed[id]) == seen && t++ < 3000) usleep(10000);
    }
    return 0;
}

/* Entered: DIR/ready exists, or we are the last to arrive and create it. (Waiting for the
 * member count alone could miss it: a fast participant may already be leaving.) */
static int entered(zk_handle *zh, long id) {
    zk_strings *kids = NULL;
    if (zk_exists(zh, ready, on_change, (void *)&changed[id], NULL) == ZK_OK) return 1;
    if (zk_get_children(zh, members, on_change, (void *)&changed[id], &kids, NULL) != ZK_OK) return 0;
    int all = kids->len >= (size_t)n;
    zk_free_strings(kids);
    int rc = all ? zk_create(zh, ready, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL) : ZK_NONODE;
    return rc == ZK_OK || rc == ZK_NODEEXISTS;
}

static int none_left(zk_handle *zh, long id) {
    zk_strings *kids = NULL;
    if (zk_get_children(zh, members, on_change, (void *)&changed[id], &kids, NULL) != ZK_OK) return 0;
    int none = kids->len == 0;
    zk_free_strings(kids);
    return none;
}

static void *participant(void *arg) {
    long id = (long)arg, good = 0;
    char me[128];
    zk_handle *zh = NULL;
    snprintf(me, sizeof me, "%s/p%ld", members, id);
    usleep((useconds_t)(100000 * id)); /* arrive one after another */
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK) return (void *)0;
    bump(&arrived);
    printf("participant %ld arrives\n", id);
    if (zk_create(zh, me, NULL, 0, NULL, 0, ZK_EPHEMERAL, 0, NULL, NULL) == ZK_OK &&
        wait_until(zh, id, entered)) {
        int in = load(&arrived) == n;
        printf("participant %ld starts working\n", id);
        usleep((useconds_t)(50000 * (n - id)));
        bump(&finished);
        printf("participant %ld finished, leaving\n", id);
        zk_delete(zh, me, -1);
        good = in && wait_until(zh, id, none_left) && load(&finished) == n;
        printf("participant %ld left\n", id);
    }
    zk_close(zh);
    return (void *)good;
}

int main(int argc, char **argv) {
    hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    n = argc > 2 ? atoi(argv[2]) : 4;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!hosts || n < 1 || n > MAX) {
        fprintf(stderr, "usage: barrier HOST:PORT [PARTICIPANTS<=16]\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "/example-barrier-%d", (int)getpid());
    snprintf(members, sizeof members, "%s/members", dir);
    snprintf(ready, sizeof ready, "%s/ready", dir);
    zk_handle *zh = NULL;
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK || zk_wait_connected(zh, 10000) != ZK_OK ||
        zk_create(zh, dir, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL) != ZK_OK ||
        zk_create(zh, members, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL) != ZK_OK) {
        fprintf(stderr, "cannot connect to %s\n", hosts);
        zk_close(zh);
        return 1;
    }
    pthread_t threads[MAX];
    long good = 0;
    for (long i = 0; i < n; i++) pthread_create(&threads[i], NULL, participant, (void *)i);
    for (int i = 0; i < n; i++) {
        void *g = NULL;
        pthread_join(threads[i], &g);
        good += (long)g;
    }
    zk_delete(zh, ready, -1);
    zk_delete(zh, members, -1);
    zk_delete(zh, dir, -1);
    zk_close(zh);
    int ok = good == n;
    printf("barrier: %s (nobody started before all arrived, nobody left before all finished)\n",
           ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
