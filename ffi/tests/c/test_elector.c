/* libzk's zk_elector (Hadoop's ActiveStandbyElector) and zk_active_node_info from C:
 * election, fencing with the old active's decoded data, graceful and fenced quits, cede,
 * format, calls from inside callbacks, close while a callback runs, bad arguments.
 *
 * Environment: ZK_TEST_HOSTS (host:port of a running zk-server).
 * Run one test with: test_elector NAME. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zk.h"

static int failures;
static const char *hosts;
static char parent[160];

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
            goto out;                                                                 \
        }                                                                             \
    } while (0)

#define CHECK_RC(expr, want)                                                           \
    do {                                                                               \
        int rc_ = (expr);                                                              \
        if (rc_ != (want)) {                                                           \
            fprintf(stderr, "  %s:%d: %s = %d (%s), want %d (%s)\n", __FILE__, __LINE__, \
                    #expr, rc_, zk_error_string(rc_), (want), zk_error_string(want));  \
            failures++;                                                                \
            goto out;                                                                  \
        }                                                                              \
    } while (0)

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int load(volatile int *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }
static void bump(volatile int *v) { __atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST); }

/* Waits until *v >= want (20 s at most); returns whether it got there. */
static int wait_for(volatile int *v, int want) {
    int64_t deadline = now_ms() + 20000;
    while (load(v) < want) {
        if (now_ms() > deadline) return 0;
        usleep(2000);
    }
    return 1;
}

static int wait_state(zk_elector *e, int want) {
    int64_t deadline = now_ms() + 20000;
    int state = -1;
    while (zk_elector_state(e, &state) == ZK_OK && state != want) {
        if (now_ms() > deadline) return 0;
        usleep(2000);
    }
    return state == want;
}

/* ---------------------------------------------------------------- an application */

typedef struct app {
    const char *id; /* namenode id: nn1, nn2 */
    zk_elector *e;
    volatile int active, refused, standby, neutral, fenced, fatal;
    volatile int active_ok, fence_ok, standby_ok;
    char fenced_namenode[64];
    volatile int fence_sleep_ms;
    /* the dispatch thread the first callback ran on; every later one must match */
    pthread_t thread;
    volatile int thread_known, wrong_thread, on_main_thread;
    /* re-entrant calls made from callbacks */
    volatile int quit_in_active, close_in_standby, probe_in_active;
    volatile int probe_rc, quit_rc, close_rc, closed_in_callback;
    volatile int fencing; /* fence callbacks started */
} app;

static pthread_t main_thread;

static void note_thread(app *a) {
    pthread_t self = pthread_self();
    if (pthread_equal(self, main_thread)) bump(&a->on_main_thread);
    if (!load(&a->thread_known)) {
        a->thread = self;
        __atomic_store_n(&a->thread_known, 1, __ATOMIC_SEQ_CST);
    } else if (!pthread_equal(a->thread, self)) {
        bump(&a->wrong_thread);
    }
}

static int on_active(void *ctx) {
    app *a = ctx;
    note_thread(a);
    if (load(&a->probe_in_active)) {
        uint8_t *data = NULL;
        size_t len = 0;
        a->probe_rc = zk_elector_active_data(a->e, &data, &len);
        zk_free_bytes(data);
    }
    if (!load(&a->active_ok)) {
        bump(&a->refused);
        return 0;
    }
    if (load(&a->quit_in_active)) a->quit_rc = zk_elector_quit(a->e, 0);
    bump(&a->active);
    return 1;
}

static int on_standby(void *ctx) {
    app *a = ctx;
    note_thread(a);
    bump(&a->standby);
    if (load(&a->close_in_standby)) {
        a->close_rc = zk_elector_close(a->e);
        bump(&a->closed_in_callback);
    }
    return load(&a->standby_ok);
}

static void on_neutral(void *ctx) {
    app *a = ctx;
    note_thread(a);
    bump(&a->neutral);
}

static int on_fence(const uint8_t *data, size_t len, void *ctx) {
    app *a = ctx;
    note_thread(a);
    bump(&a->fencing);
    zk_active_node_info *old = NULL;
    if (zk_active_node_info_decode(data, len, &old) == ZK_OK) {
        snprintf(a->fenced_namenode, sizeof a->fenced_namenode, "%s", old->namenode_id);
        zk_free_active_node_info(old);
    }
    if (load(&a->fence_sleep_ms)) usleep((useconds_t)load(&a->fence_sleep_ms) * 1000);
    bump(&a->fenced);
    return load(&a->fence_ok);
}

static void on_fatal(const char *message, void *ctx) {
    app *a = ctx;
    note_thread(a);
    fprintf(stderr, "  [%s] fatal: %s\n", a->id, message);
    bump(&a->fatal);
}

static void app_init(app *a, const char *id) {
    memset(a, 0, sizeof *a);
    a->id = id;
    a->active_ok = a->fence_ok = a->standby_ok = 1;
}

static zk_elector *open_elector(app *a) {
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 4000;
    zk_elector_config c = ZK_ELECTOR_CONFIG_INIT;
    c.parent_znode = parent;
    c.become_active = on_active;
    c.become_standby = on_standby;
    c.enter_neutral = on_neutral;
    c.fence_old_active = on_fence;
    c.fatal_error = on_fatal;
    c.ctx = a;
    if (zk_elector_open(&a->e, hosts, &o, &c) != ZK_OK) return NULL;
    return a->e;
}

/* The ActiveNodeInfo of namenode `id`, encoded (free with zk_free_bytes). */
static uint8_t *info_of(const char *id, size_t *len) {
    char host[64];
    snprintf(host, sizeof host, "host-%s", id);
    zk_active_node_info info = {"ns1", id, host, 8020, 8019};
    uint8_t *data = NULL;
    if (zk_active_node_info_encode(&info, &data, len) != ZK_OK) return NULL;
    return data;
}

static int join(app *a) {
    size_t len = 0;
    uint8_t *data = info_of(a->id, &len);
    int rc = data ? zk_elector_join(a->e, data, len) : ZK_SYSTEMERROR;
    zk_free_bytes(data);
    return rc;
}

/* The namenode id in the active's data, or "" when nobody is active. */
static void active_namenode(zk_elector *e, char *out, size_t size) {
    uint8_t *data = NULL;
    size_t len = 0;
    zk_active_node_info *info = NULL;
    out[0] = 0;
    if (zk_elector_active_data(e, &data, &len) == ZK_OK &&
        zk_active_node_info_decode(data, len, &info) == ZK_OK)
        snprintf(out, size, "%s", info->namenode_id);
    zk_free_active_node_info(info);
    zk_free_bytes(data);
}

/* a active, b standby, on a formatted parent. */
static int active_and_standby(app *a, app *b) {
    int formatted = 0;
    if (!open_elector(a) || !open_elector(b)) return 0;
    if (zk_elector_format(a->e, 1, &formatted) != ZK_OK || !formatted) return 0;
    if (join(a) != ZK_OK || !wait_for(&a->active, 1)) return 0;
    if (join(b) != ZK_OK || !wait_for(&b->standby, 1)) return 0;
    return 1;
}

/* ---------------------------------------------------------------- tests */

static void test_node_info(void) {
    zk_active_node_info info = {"ns1", "nn1", "host-a", 8020, 8019};
    uint8_t *data = NULL;
    size_t len = 0;
    zk_active_node_info *back = NULL;
    /* protobuf: 0a 03 "ns1" 12 03 "nn1" 1a 06 "host-a" 20 d4 3e 28 d3 3e */
    static const uint8_t expected[] = {0x0a, 3, 'n', 's', '1', 0x12, 3, 'n', 'n', '1', 0x1a, 6, 'h',
                                       'o', 's', 't', '-', 'a', 0x20, 0xd4, 0x3e, 0x28, 0xd3, 0x3e};
    CHECK_RC(zk_active_node_info_encode(&info, &data, &len), ZK_OK);
    CHECK(len == sizeof expected && memcmp(data, expected, len) == 0);
    CHECK_RC(zk_active_node_info_decode(data, len, &back), ZK_OK);
    CHECK(strcmp(back->nameservice_id, "ns1") == 0 && strcmp(back->namenode_id, "nn1") == 0);
    CHECK(strcmp(back->hostname, "host-a") == 0 && back->port == 8020 && back->zkfc_port == 8019);
    zk_free_active_node_info(back);
    back = NULL;
    CHECK_RC(zk_active_node_info_decode(data, len - 3, &back), ZK_MARSHALLINGERROR);
    CHECK(back == NULL);
    CHECK_RC(zk_active_node_info_decode((const uint8_t *)"\xff\xff", 2, &back), ZK_MARSHALLINGERROR);
    CHECK_RC(zk_active_node_info_decode(data, len, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_active_node_info_decode(NULL, 4, &back), ZK_BADARGUMENTS);
    info.hostname = NULL;
    zk_free_bytes(data);
    data = NULL;
    CHECK_RC(zk_active_node_info_encode(&info, &data, &len), ZK_BADARGUMENTS);
    CHECK(data == NULL && len == 0);
    CHECK_RC(zk_active_node_info_encode(NULL, &data, &len), ZK_BADARGUMENTS);
    zk_free_active_node_info(NULL);
out:
    zk_free_bytes(data);
}

static void test_bad_arguments(void) {
    app a;
    app_init(&a, "nn1");
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 4000;
    zk_elector_config c = ZK_ELECTOR_CONFIG_INIT;
    zk_elector *e = NULL;
    int state = 77, exists = 77;
    int64_t sid = 77;
    c.parent_znode = parent;
    c.become_active = on_active;
    c.fence_old_active = on_fence;
    c.ctx = &a;
    CHECK_RC(zk_elector_open(NULL, hosts, &o, &c), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_open(&e, NULL, &o, &c), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_open(&e, hosts, NULL, &c), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_open(&e, hosts, &o, NULL), ZK_BADARGUMENTS);
    CHECK(e == NULL);
    c.parent_znode = "/";
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS);
    c.parent_znode = "no-slash";
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS);
    c.parent_znode = parent;
    c.fence_old_active = NULL; /* a controller that cannot fence may not run (zkfc exit 4) */
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS);
    c.fence_old_active = on_fence;
    c.become_active = NULL;
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS);
    c.become_active = on_active;
    c.max_retries = -1;
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS);
    c.max_retries = 0;
    c.size = 4; /* smaller than any zk_elector_config */
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS);
    c.size = sizeof c;
    /* A config from an older zk.h (only up to parent_znode) is read as far as it goes. */
    c.size = offsetof(zk_elector_config, acl);
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_BADARGUMENTS); /* callbacks missing */
    c.size = sizeof c;
    {
        /* A newer, larger config with an unknown non-zero field is refused. */
        struct {
            zk_elector_config c;
            uint64_t newer;
        } big;
        memset(&big, 0, sizeof big);
        big.c = c;
        big.c.size = sizeof big;
        big.newer = 1;
        CHECK_RC(zk_elector_open(&e, hosts, &o, &big.c), ZK_BADARGUMENTS);
        big.newer = 0;
        CHECK_RC(zk_elector_open(&e, hosts, &o, &big.c), ZK_OK);
        CHECK_RC(zk_elector_close(e), ZK_OK);
        e = NULL;
    }
    CHECK_RC(zk_elector_open(&e, hosts, &o, &c), ZK_OK);
    CHECK_RC(zk_elector_state(e, &state), ZK_OK);
    CHECK(state == ZK_ELECTOR_INIT);
    CHECK_RC(zk_elector_session_id(e, &sid), ZK_OK);
    CHECK(sid == 0); /* nothing sent yet */
    CHECK_RC(zk_elector_parent_exists(e, &exists), ZK_OK);
    CHECK(exists == 0);
    CHECK_RC(zk_elector_session_id(e, &sid), ZK_OK);
    CHECK(sid != 0);
    CHECK_RC(zk_elector_join(e, NULL, 3), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_cede(e, -1), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_state(e, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_parent_exists(e, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_active_data(e, NULL, NULL), ZK_BADARGUMENTS);
    {
        uint8_t *data = (uint8_t *)&state;
        size_t len = 5;
        CHECK_RC(zk_elector_active_data(e, &data, &len), ZK_NONODE);
        CHECK(data == NULL && len == 0);
    }
    CHECK_RC(zk_elector_close(e), ZK_OK);
    /* a closed elector, NULL and made-up ids are refused, never dereferenced */
    CHECK_RC(zk_elector_close(e), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_join(e, (const uint8_t *)"x", 1), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_quit(e, 0), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_state(e, &state), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_quit(NULL, 1), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_format(NULL, 1, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_state((zk_elector *)(uintptr_t)0xdeadbeef, &state), ZK_BADARGUMENTS);
    CHECK_RC(zk_elector_close(NULL), ZK_OK);
    e = NULL;
out:
    zk_elector_close(e);
}

static void test_election_and_fencing(void) {
    app a, b;
    char who[64];
    int64_t sid = 0;
    app_init(&a, "nn1");
    app_init(&b, "nn2");
    CHECK(active_and_standby(&a, &b));
    CHECK(wait_state(a.e, ZK_ELECTOR_ACTIVE) && wait_state(b.e, ZK_ELECTOR_STANDBY));
    active_namenode(b.e, who, sizeof who);
    CHECK(strcmp(who, "nn1") == 0);
    CHECK_RC(zk_elector_session_id(a.e, &sid), ZK_OK);
    CHECK(sid != 0);
    /* a leaves needing to be fenced: b fences it with its decoded data, then leads */
    CHECK_RC(zk_elector_quit(a.e, 1), ZK_OK);
    CHECK(wait_for(&b.active, 1));
    CHECK(load(&b.fenced) == 1 && strcmp(b.fenced_namenode, "nn1") == 0);
    active_namenode(a.e, who, sizeof who);
    CHECK(strcmp(who, "nn2") == 0);
    /* a comes back as standby; b leaves gracefully: a leads without fencing anyone */
    CHECK_RC(join(&a), ZK_OK);
    CHECK(wait_for(&a.standby, 1));
    CHECK_RC(zk_elector_quit(b.e, 0), ZK_OK);
    CHECK(wait_for(&a.active, 2));
    CHECK(load(&a.fenced) == 0);
    /* every callback ran on each elector's own dispatch thread, never the caller's */
    CHECK(load(&a.wrong_thread) == 0 && load(&b.wrong_thread) == 0);
    CHECK(load(&a.on_main_thread) == 0 && load(&b.on_main_thread) == 0);
    CHECK(!pthread_equal(a.thread, b.thread));
out:
    zk_elector_close(a.e);
    zk_elector_close(b.e);
}

static void test_refused_fence_blocks_the_takeover(void) {
    app a, b;
    int state = -1;
    app_init(&a, "nn1");
    app_init(&b, "nn2");
    CHECK(active_and_standby(&a, &b));
    b.fence_ok = 0;
    CHECK_RC(zk_elector_close(a.e), ZK_OK); /* a "crashes": its breadcrumb stays */
    a.e = NULL;
    CHECK(wait_for(&b.fenced, 2));
    CHECK(load(&b.active) == 0);
    CHECK_RC(zk_elector_state(b.e, &state), ZK_OK);
    CHECK(state != ZK_ELECTOR_ACTIVE);
    b.fence_ok = 1;
    CHECK(wait_for(&b.active, 1));
    CHECK(strcmp(b.fenced_namenode, "nn1") == 0);
out:
    zk_elector_close(a.e);
    zk_elector_close(b.e);
}

static void test_cede(void) {
    app a, b;
    app_init(&a, "nn1");
    app_init(&b, "nn2");
    CHECK(active_and_standby(&a, &b));
    CHECK_RC(zk_elector_cede(a.e, 1000), ZK_OK);
    CHECK(load(&a.standby) == 1); /* told to stand by before cede returned */
    CHECK(wait_for(&b.active, 1));
    CHECK(load(&b.fenced) == 0); /* a deleted its breadcrumb */
    CHECK(wait_state(a.e, ZK_ELECTOR_STANDBY)); /* back after the period */
out:
    zk_elector_close(a.e);
    zk_elector_close(b.e);
}

static void test_format(void) {
    app a;
    int exists = -1, formatted = -1;
    app_init(&a, "nn1");
    CHECK(open_elector(&a));
    CHECK_RC(zk_elector_format(a.e, 0, &formatted), ZK_OK);
    CHECK(formatted == 1);
    CHECK_RC(zk_elector_parent_exists(a.e, &exists), ZK_OK);
    CHECK(exists == 1);
    CHECK_RC(zk_elector_format(a.e, 0, &formatted), ZK_OK);
    CHECK(formatted == 0); /* exists: left alone without force */
    CHECK_RC(zk_elector_format(a.e, 1, &formatted), ZK_OK);
    CHECK(formatted == 1);
    CHECK_RC(zk_elector_ensure_parent(a.e), ZK_OK);
    CHECK_RC(join(&a), ZK_OK);
    CHECK(wait_for(&a.active, 1));
    CHECK_RC(zk_elector_format(a.e, 1, &formatted), ZK_BADARGUMENTS); /* in the election */
    CHECK(formatted == 0);
    CHECK_RC(zk_elector_ensure_parent(a.e), ZK_BADARGUMENTS);
out:
    zk_elector_close(a.e);
}

static void test_calls_from_callbacks(void) {
    app a, b;
    int state = -1;
    app_init(&a, "nn1");
    app_init(&b, "nn2");
    CHECK(open_elector(&a) && open_elector(&b));
    CHECK_RC(zk_elector_format(a.e, 1, NULL), ZK_OK);
    /* a waits for its elector from become_active: refused (it would never return), and
     * quits from inside it: takes effect once the callback returns */
    a.probe_in_active = 1;
    a.quit_in_active = 1;
    CHECK_RC(join(&a), ZK_OK);
    CHECK(wait_for(&a.active, 1));
    CHECK(a.probe_rc == ZK_INVALIDSTATE && a.quit_rc == ZK_OK);
    CHECK(wait_state(a.e, ZK_ELECTOR_INIT));
    /* b closes its own elector from become_standby */
    a.quit_in_active = a.probe_in_active = 0;
    CHECK_RC(join(&a), ZK_OK); /* a leads again (the quit was graceful: no fencing) */
    CHECK(wait_for(&a.active, 2));
    CHECK(load(&a.fenced) == 0);
    b.close_in_standby = 1;
    CHECK_RC(join(&b), ZK_OK);
    CHECK(wait_for(&b.closed_in_callback, 1));
    CHECK(b.close_rc == ZK_OK);
    CHECK_RC(zk_elector_state(b.e, &state), ZK_BADARGUMENTS); /* freed */
    b.e = NULL;
out:
    zk_elector_close(a.e);
    zk_elector_close(b.e);
}

static void test_close_waits_for_a_running_callback(void) {
    app a, b;
    app_init(&a, "nn1");
    app_init(&b, "nn2");
    CHECK(active_and_standby(&a, &b));
    b.fence_sleep_ms = 300;
    CHECK_RC(zk_elector_quit(a.e, 1), ZK_OK);
    /* b starts fencing (300 ms): closing it waits for that callback, then none runs */
    CHECK(wait_for(&b.fencing, 1));
    {
        CHECK_RC(zk_elector_close(b.e), ZK_OK);
        b.e = NULL;
        CHECK(load(&b.fenced) == 1); /* the running callback finished before close returned */
        int fenced = load(&b.fenced), active = load(&b.active), standby = load(&b.standby);
        usleep(300000);
        CHECK(load(&b.fenced) == fenced && load(&b.active) == active &&
              load(&b.standby) == standby);
        CHECK(active == 0); /* the takeover ended with close */
    }
out:
    zk_elector_close(a.e);
    zk_elector_close(b.e);
}

/* ---------------------------------------------------------------- main */

typedef struct {
    const char *name;
    void (*run)(void);
} test_case;

static const test_case tests[] = {
    {"node_info", test_node_info},
    {"bad_arguments", test_bad_arguments},
    {"election_and_fencing", test_election_and_fencing},
    {"refused_fence", test_refused_fence_blocks_the_takeover},
    {"cede", test_cede},
    {"format", test_format},
    {"calls_from_callbacks", test_calls_from_callbacks},
    {"close_during_callback", test_close_waits_for_a_running_callback},
};

int main(int argc, char **argv) {
    hosts = getenv("ZK_TEST_HOSTS");
    if (!hosts && !(argc > 1 && strcmp(argv[1], "--list") == 0)) {
        fprintf(stderr, "set ZK_TEST_HOSTS=host:port\n");
        return 2;
    }
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) printf("%s\n", tests[i].name);
        return 0;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    main_thread = pthread_self();
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const test_case *t = &tests[i];
        if (argc > 1 && strcmp(argv[1], t->name) != 0) continue;
        int before = failures;
        int64_t t0 = now_ms();
        snprintf(parent, sizeof parent, "/hadoop-ha-ctest-%d/%s", (int)getpid(), t->name);
        t->run();
        ran++;
        printf("%-24s %s (%lld ms)\n", t->name, failures == before ? "ok" : "FAILED",
               (long long)(now_ms() - t0));
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    printf("%d test(s), %d failure(s)\n", ran, failures);
    return failures ? 1 : 0;
}
