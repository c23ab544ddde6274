/* config_watcher: keep a configuration value current with a data watch.
 *
 *   config_watcher HOST:PORT [UPDATES]
 *
 * Creates /example-config (if missing), then re-reads it and re-arms the watch every
 * time it changes. To be self-contained it also publishes UPDATES new values (default 3)
 * from a second handle, and exits once it has seen the last one.
 *
 * Also shows the process-wide calls: zk_version, zk_set_log_fn (libzk prints nothing
 * itself; here its warnings and errors go to stderr) and zk_open_with with a
 * zk_options started from ZK_OPTIONS_INIT. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zk.h"

#define CONFIG_PATH "/example-config"

static volatile int seen_version = -1;

static void on_change(zk_handle *zh, int type, int state, const char *path, void *ctx);

/* Reads the value and leaves a fresh watch (watches fire once). */
static void load_config(zk_handle *zh) {
    uint8_t *data = NULL;
    size_t len = 0;
    zk_stat st;
    int rc = zk_get(zh, CONFIG_PATH, on_change, NULL, &data, &len, &st);
    if (rc != ZK_OK) {
        fprintf(stderr, "get %s: %s\n", CONFIG_PATH, zk_error_string(rc));
        return;
    }
    printf("config v%d: %.*s\n", st.version, (int)len, (const char *)data);
    zk_free_bytes(data); /* library-allocated out-values are freed with zk_free_* */
    __atomic_store_n(&seen_version, st.version, __ATOMIC_SEQ_CST);
}

/* Runs on the handle's dispatch thread; synchronous calls are allowed here. The last
 * call of a watch that never fired is a session event (ZK_STATE_CLOSED at close). */
static void on_change(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    (void)ctx;
    if (type == ZK_CHANGED_EVENT || type == ZK_CREATED_EVENT) {
        printf("event %d on %s\n", type, path);
        load_config(zh);
    } else if (type == ZK_SESSION_EVENT && state == ZK_STATE_CLOSED) {
        printf("watch ended: handle closed\n");
    }
}

/* Runs on libzk's log thread. */
static void on_log(int level, const char *target, const char *message, void *ctx) {
    (void)ctx;
    fprintf(stderr, "[libzk %s] %s: %s\n", level == ZK_LOG_ERROR ? "error" : "warn", target, message);
}

int main(int argc, char **argv) {
    const char *hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    int updates = argc > 2 ? atoi(argv[2]) : 3;
    zk_handle *zh = NULL, *writer = NULL;
    if (!hosts) {
        fprintf(stderr, "usage: config_watcher HOST:PORT [UPDATES]\n");
        return 2;
    }
    printf("libzk %s\n", zk_version());
    zk_set_log_level(ZK_LOG_WARN);
    zk_set_log_fn(on_log, NULL);
    zk_options options = ZK_OPTIONS_INIT;
    options.session_timeout_ms = 10000;
    options.request_timeout_ms = 10000; /* fail a request rather than wait forever */
    if (zk_open_with(&zh, hosts, &options, NULL, NULL) != ZK_OK ||
        zk_wait_connected(zh, 10000) != ZK_OK) {
        fprintf(stderr, "cannot connect to %s\n", hosts);
        zk_close(zh);
        return 1;
    }
    int rc = zk_create(zh, CONFIG_PATH, (const uint8_t *)"initial", 7, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL);
    if (rc != ZK_OK && rc != ZK_NODEEXISTS) {
        fprintf(stderr, "create: %s\n", zk_error_string(rc));
        zk_close(zh);
        return 1;
    }
    load_config(zh);
    int start = __atomic_load_n(&seen_version, __ATOMIC_SEQ_CST);

    zk_open(&writer, hosts, 10000, 0, NULL, 0, NULL, NULL);
    for (int i = 1; i <= updates; i++) {
        char value[64];
        int n = snprintf(value, sizeof value, "setting-%d", i);
        zk_set(writer, CONFIG_PATH, (const uint8_t *)value, (size_t)n, -1, NULL);
        /* wait until the watcher has seen this version before the next write */
        for (int t = 0; t < 500 && __atomic_load_n(&seen_version, __ATOMIC_SEQ_CST) < start + i; t++)
            usleep(10000);
    }
    int ok = __atomic_load_n(&seen_version, __ATOMIC_SEQ_CST) == start + updates;
    zk_close(writer);
    zk_close(zh);
    zk_set_log_fn(NULL, NULL);
    printf("%s\n", ok ? "config_watcher: ok" : "config_watcher: missed updates");
    return ok ? 0 : 1;
}
