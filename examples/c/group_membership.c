/* group_membership: join a group as an ephemeral sequential node and follow the
 * membership with a children watch.
 *
 *   group_membership HOST:PORT [MEMBERS]
 *
 * Starts MEMBERS sessions (default 3) that join /example-group, prints the membership
 * as it changes, then has one member leave (closing its session removes its node) and
 * checks that everybody sees the smaller group. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zk.h"

#define GROUP "/example-group"
#define MAX_MEMBERS 16

static volatile int members_seen = -1;

static void on_members(zk_handle *zh, int type, int state, const char *path, void *ctx);

static void list_members(zk_handle *zh) {
    zk_strings *kids = NULL;
    int rc = zk_get_children(zh, GROUP, on_members, NULL, &kids, NULL);
    if (rc != ZK_OK) {
        fprintf(stderr, "children: %s\n", zk_error_string(rc));
        return;
    }
    printf("members (%zu):", kids->len);
    for (size_t i = 0; i < kids->len; i++) printf(" %s", kids->items[i]);
    printf("\n");
    __atomic_store_n(&members_seen, (int)kids->len, __ATOMIC_SEQ_CST);
    zk_free_strings(kids);
}

static void on_members(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    (void)state;
    (void)path;
    (void)ctx;
    if (type == ZK_CHILD_EVENT) list_members(zh);
}

static int wait_members(int want) {
    for (int t = 0; t < 500; t++) {
        if (__atomic_load_n(&members_seen, __ATOMIC_SEQ_CST) == want) return 1;
        usleep(10000);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    int n = argc > 2 ? atoi(argv[2]) : 3;
    zk_handle *observer = NULL, *member[MAX_MEMBERS] = {0};
    if (!hosts || n < 1 || n > MAX_MEMBERS) {
        fprintf(stderr, "usage: group_membership HOST:PORT [MEMBERS<=16]\n");
        return 2;
    }
    if (zk_open(&observer, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK ||
        zk_wait_connected(observer, 10000) != ZK_OK) {
        fprintf(stderr, "cannot connect to %s\n", hosts);
        zk_close(observer);
        return 1;
    }
    int rc = zk_create(observer, GROUP, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL);
    if (rc != ZK_OK && rc != ZK_NODEEXISTS) {
        fprintf(stderr, "create group: %s\n", zk_error_string(rc));
        zk_close(observer);
        return 1;
    }
    list_members(observer);
    int before = __atomic_load_n(&members_seen, __ATOMIC_SEQ_CST);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        char *me = NULL;
        char data[32];
        int len = snprintf(data, sizeof data, "member %d", i);
        zk_open(&member[i], hosts, 10000, 0, NULL, 0, NULL, NULL);
        rc = zk_create(member[i], GROUP "/member-", (const uint8_t *)data, (size_t)len, NULL, 0,
                       ZK_EPHEMERAL_SEQUENTIAL, 0, &me, NULL);
        if (rc != ZK_OK) {
            fprintf(stderr, "join: %s\n", zk_error_string(rc));
            ok = 0;
            break;
        }
        printf("joined as %s\n", me);
        zk_free_string(me);
        ok = ok && wait_members(before + i + 1);
    }
    if (ok) {
        zk_close(member[0]); /* leaving = ending the session: the ephemeral node goes */
        member[0] = NULL;
        ok = wait_members(before + n - 1);
    }
    for (int i = 0; i < n; i++) zk_close(member[i]);
    zk_close(observer);
    printf("%s\n", ok ? "group_membership: ok" : "group_membership: FAILED");
    return ok ? 0 : 1;
}
