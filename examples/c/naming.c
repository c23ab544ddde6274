/* naming: a naming service from sequential znodes. Several sessions ask for job names at
 * once; the server appends a ten-digit counter to each create under /example-naming, so
 * no two names are ever the same and each session's names grow.
 *
 *   naming HOST:PORT [WORKERS] [NAMES] */
#define _DEFAULT_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zk.h"

#define DIR "/example-naming"
#define MAX_WORKERS 16
#define MAX_NAMES 64

static const char *hosts;
static int names_each = 5;
static char names[MAX_WORKERS * MAX_NAMES][64];

static void *worker(void *arg) {
    long id = (long)arg;
    zk_handle *zh = NULL;
    long failures = 0;
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK) return (void *)1;
    for (int i = 0; i < names_each; i++) {
        char *path = NULL, data[32];
        int len = snprintf(data, sizeof data, "worker %ld", id);
        int rc = zk_create(zh, DIR "/job-", (const uint8_t *)data, (size_t)len, NULL, 0,
                           ZK_PERSISTENT_SEQUENTIAL, 0, &path, NULL);
        if (rc != ZK_OK) {
            fprintf(stderr, "worker %ld: %s\n", id, zk_error_string(rc));
            failures++;
            continue;
        }
        printf("worker %ld got %s\n", id, path);
        snprintf(names[id * names_each + i], sizeof names[0], "%s", path);
        /* each worker's names grow */
        if (i > 0 && strcmp(names[id * names_each + i - 1], path) >= 0) failures++;
        zk_free_string(path);
    }
    zk_close(zh);
    return (void *)failures;
}

static int by_text(const void *a, const void *b) { return strcmp(a, b); }

int main(int argc, char **argv) {
    hosts = argc > 1 ? argv[1] : getenv("ZK_HOSTS");
    int workers = argc > 2 ? atoi(argv[2]) : 4;
    if (argc > 3) names_each = atoi(argv[3]);
    if (!hosts || workers < 1 || workers > MAX_WORKERS || names_each < 1 || names_each > MAX_NAMES) {
        fprintf(stderr, "usage: naming HOST:PORT [WORKERS<=16] [NAMES<=64]\n");
        return 2;
    }
    zk_handle *zh = NULL;
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK || zk_wait_connected(zh, 10000) != ZK_OK) {
        fprintf(stderr, "cannot connect to %s\n", hosts);
        zk_close(zh);
        return 1;
    }
    int rc = zk_create(zh, DIR, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL);
    zk_close(zh);
    if (rc != ZK_OK && rc != ZK_NODEEXISTS) {
        fprintf(stderr, "create %s: %s\n", DIR, zk_error_string(rc));
        return 1;
    }
    pthread_t threads[MAX_WORKERS];
    long failures = 0;
    for (long i = 0; i < workers; i++) pthread_create(&threads[i], NULL, worker, (void *)i);
    for (int i = 0; i < workers; i++) {
        void *f = NULL;
        pthread_join(threads[i], &f);
        failures += (long)f;
    }
    int total = workers * names_each, unique = 1;
    qsort(names, (size_t)total, sizeof names[0], by_text);
    for (int i = 1; i < total; i++) unique = unique && strcmp(names[i - 1], names[i]) != 0;
    int ok = failures == 0 && unique;
    printf("naming: %s (%d unique names)\n", ok ? "ok" : "FAILED", unique ? total : 0);
    return ok ? 0 : 1;
}
