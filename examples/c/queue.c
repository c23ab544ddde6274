/* queue: a FIFO queue between processes, written out. Producers add persistent
 * sequential nodes DIR/item-<seq>; consumers take the lowest one by deleting it (a
 * consumer whose delete fails lost the race and tries the next). Producers and consumers
 * are separate processes sharing only the znode; every item is consumed exactly once,
 * and each consumer gets any one producer's items in order.
 *
 *   queue HOST:PORT                       (starts 2 producers and 2 consumers)
 *   queue HOST:PORT produce DIR ID COUNT  (one producer)
 *   queue HOST:PORT consume DIR ID        (one consumer, until it takes "stop") */
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zk.h"

#define PRODUCERS 2
#define CONSUMERS 2
#define ITEMS 10

extern char **environ;
static volatile int changed;

static void on_change(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    (void)zh, (void)type, (void)state, (void)path, (void)ctx;
    __atomic_add_fetch(&changed, 1, __ATOMIC_SEQ_CST);
}

static int by_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int put(zk_handle *zh, const char *dir, const char *item) {
    char path[128];
    snprintf(path, sizeof path, "%s/item-", dir);
    return zk_create(zh, path, (const uint8_t *)item, strlen(item), NULL, 0, ZK_PERSISTENT_SEQUENTIAL, 0, NULL, NULL);
}

/* Takes the first item (up to 30 s of waiting); 0 with item[0] == 0 on timeout. */
static int take(zk_handle *zh, const char *dir, char *item, size_t size) {
    item[0] = 0;
    for (int t = 0; t < 3000;) {
        int seen = __atomic_load_n(&changed, __ATOMIC_SEQ_CST);
        zk_strings *kids = NULL;
        if (zk_get_children(zh, dir, on_change, NULL, &kids, NULL) != ZK_OK) return 0;
        qsort(kids->items, kids->len, sizeof *kids->items, by_text);
        for (size_t i = 0; i < kids->len && !item[0]; i++) {
            char path[128];
            uint8_t *data = NULL;
            size_t len = 0;
            snprintf(path, sizeof path, "%s/%s", dir, kids->items[i]);
            if (zk_get(zh, path, NULL, NULL, &data, &len, NULL) == ZK_OK && zk_delete(zh, path, -1) == ZK_OK)
                snprintf(item, size, "%.*s", (int)len, (const char *)data); /* ours */
            zk_free_bytes(data);
        }
        zk_free_strings(kids);
        if (item[0]) return 1;
        while (__atomic_load_n(&changed, __ATOMIC_SEQ_CST) == seen && t++ < 3000) usleep(10000);
    }
    return 0;
}

static pid_t start(char *self, char *hosts, char *role, char *dir, char *id, int *out_fd) {
    char count[16];
    snprintf(count, sizeof count, "%d", ITEMS);
    char *argv[] = {self, hosts, role, dir, id, count, NULL};
    posix_spawn_file_actions_t actions;
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    posix_spawn_file_actions_init(&actions);
    if (out_fd && pipe(fds) == 0) {
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, fds[0]);
    }
    if (posix_spawn(&pid, self, &actions, NULL, argv, environ) != 0) pid = -1;
    posix_spawn_file_actions_destroy(&actions);
    if (out_fd) close(fds[1]), *out_fd = fds[0];
    return pid;
}

int main(int argc, char **argv) {
    char *hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    zk_handle *zh = NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 2) prctl(PR_SET_PDEATHSIG, SIGKILL); /* a worker ends with the process that started it */
    if (!hosts || zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK || zk_wait_connected(zh, 10000) != ZK_OK) {
        fprintf(stderr, "usage: queue HOST:PORT (a reachable ensemble)\n");
        zk_close(zh);
        return 2;
    }
    if (argc > 5 && strcmp(argv[2], "produce") == 0) { /* a producer */
        int bad = 0;
        for (int n = 0; n < atoi(argv[5]); n++) {
            char item[32];
            snprintf(item, sizeof item, "p%s-%d", argv[4], n);
            bad |= put(zh, argv[3], item) != ZK_OK;
        }
        zk_close(zh);
        return bad;
    }
    if (argc > 4 && strcmp(argv[2], "consume") == 0) { /* a consumer */
        char item[64];
        while (take(zh, argv[3], item, sizeof item) && strcmp(item, "stop") != 0)
            printf("consumer %s took %s\n", argv[4], item);
        zk_close(zh);
        return item[0] ? 0 : 1;
    }
    char dir[64], ids[4][4] = {"0", "1", "2", "3"};
    snprintf(dir, sizeof dir, "/example-queue-%d", (int)getpid());
    zk_create(zh, dir, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL);
    int out[CONSUMERS], ok = 1, taken[PRODUCERS][ITEMS] = {{0}};
    pid_t consumers[CONSUMERS], producers[PRODUCERS];
    for (int i = 0; i < CONSUMERS; i++) consumers[i] = start(argv[0], hosts, "consume", dir, ids[i], &out[i]);
    for (int i = 0; i < PRODUCERS; i++) producers[i] = start(argv[0], hosts, "produce", dir, ids[i], NULL);
    for (int i = 0, status = 0; i < PRODUCERS; i++)
        ok &= producers[i] > 0 && waitpid(producers[i], &status, 0) > 0 && WIFEXITED(status) && !WEXITSTATUS(status);
    for (int i = 0; i < CONSUMERS; i++) ok &= put(zh, dir, "stop") == ZK_OK; /* after every item: FIFO */
    for (int i = 0, status = 0; i < CONSUMERS; i++) {
        FILE *lines = fdopen(out[i], "r");
        char line[128];
        int last[PRODUCERS] = {-1, -1}, p, n;
        while (lines && fgets(line, sizeof line, lines)) {
            fputs(line, stdout);
            if (sscanf(line, "consumer %*d took p%d-%d", &p, &n) != 2 || p < 0 || p >= PRODUCERS || n < 0 || n >= ITEMS) continue;
            taken[p][n]++;
            ok &= n > last[p]; /* in order per producer */
            last[p] = n;
        }
        if (lines) fclose(lines);
        ok &= consumers[i] > 0 && waitpid(consumers[i], &status, 0) > 0 && WIFEXITED(status) && !WEXITSTATUS(status);
    }
    for (int p = 0; p < PRODUCERS; p++)
        for (int n = 0; n < ITEMS; n++) ok &= taken[p][n] == 1; /* exactly once */
    zk_delete(zh, dir, -1);
    zk_close(zh);
    printf("queue: %s (%d items, each consumed once, in order per producer)\n", ok ? "ok" : "FAILED", PRODUCERS * ITEMS);
    return ok ? 0 : 1;
}
