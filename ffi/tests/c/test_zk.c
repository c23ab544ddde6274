/* The libzk C test suite: every call, sync and async, watches, state callbacks across a
 * server restart, close from callbacks, recipes. Plain C with a tiny CHECK macro.
 *
 * Environment: ZK_TEST_HOSTS (host:port of a running zk-server) and ZK_TEST_SERVER_CTL
 * (a shell command taking "stop" or "start" that controls that server); for the SASL tests
 * ZK_TEST_JAAS (that server's JAAS users: bob/bobsecret, alice/alicesecret),
 * ZK_TEST_SASL_ENFORCED_HOSTS (a zk-server enforcing sasl) and, optionally,
 * ZK_TEST_APACHE_SASL_HOSTS / ZK_TEST_APACHE_SASL_ENFORCED_HOSTS (Apache 3.8, the same users).
 * Run one test with: test_zk NAME. */
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
static char root[128];

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                               \
            return;                                                                   \
        }                                                                             \
    } while (0)

#define CHECK_RC(expr, want)                                                           \
    do {                                                                               \
        int rc_ = (expr);                                                              \
        if (rc_ != (want)) {                                                           \
            fprintf(stderr, "  %s:%d: %s = %d (%s), want %d (%s)\n", __FILE__, __LINE__, \
                    #expr, rc_, zk_error_string(rc_), (want), zk_error_string(want));  \
            failures++;                                                                \
            return;                                                                    \
        }                                                                              \
    } while (0)

/* ---------------------------------------------------------------- helpers */

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int load(volatile int *v) { return __atomic_load_n(v, __ATOMIC_SEQ_CST); }
static void bump(volatile int *v) { __atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST); }

/* Waits until *v >= want (10 s at most); returns whether it got there. */
static int wait_for(volatile int *v, int want) {
    int64_t deadline = now_ms() + 10000;
    while (load(v) < want) {
        if (now_ms() > deadline) return 0;
        usleep(2000);
    }
    return 1;
}

/* root/name, in one of 8 rotating buffers (so several may be live at once). */
static char *path_of(const char *name) {
    static __thread char bufs[8][256];
    static __thread int next;
    char *buf = bufs[next++ % 8];
    snprintf(buf, 256, "%s/%s", root, name);
    return buf;
}

static zk_handle *open_handle(void) {
    zk_handle *zh = NULL;
    if (zk_open(&zh, hosts, 10000, 0, NULL, 0, NULL, NULL) != ZK_OK) return NULL;
    if (zk_wait_connected(zh, 10000) != ZK_OK) {
        zk_close(zh);
        return NULL;
    }
    return zh;
}

static int server_ctl(const char *what) {
    const char *ctl = getenv("ZK_TEST_SERVER_CTL");
    char cmd[1024];
    if (!ctl) return -1;
    snprintf(cmd, sizeof cmd, "%s %s", ctl, what);
    return system(cmd);
}

/* ---------------------------------------------------------------- errors and arguments */

static void test_error_strings(void) {
    CHECK(strcmp(zk_error_string(ZK_OK), "ok") == 0);
    CHECK(strcmp(zk_error_string(ZK_NONODE), "no node") == 0);
    CHECK(strcmp(zk_error_string(ZK_NODEEXISTS), "node exists") == 0);
    CHECK(strcmp(zk_error_string(-126), "unknown error") == 0);
    CHECK(strcmp(zk_error_string(12345), "unknown error") == 0);
}

static void test_bad_arguments(void) {
    zk_handle *zh = NULL;
    char *s = NULL;
    CHECK_RC(zk_open(NULL, hosts, 1000, 0, NULL, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_open(&zh, NULL, 1000, 0, NULL, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK(zh == NULL);
    CHECK_RC(zk_open(&zh, hosts, 0, 0, NULL, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_open(&zh, "", 1000, 0, NULL, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_open(&zh, hosts, 1000, 0, NULL, 5, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_close(NULL), ZK_OK);
    CHECK_RC(zk_create(NULL, "/a", NULL, 0, NULL, 0, ZK_PERSISTENT, 0, &s, NULL), ZK_BADARGUMENTS);
    CHECK(s == NULL);
    CHECK_RC(zk_delete(NULL, "/a", -1), ZK_BADARGUMENTS);
    CHECK_RC(zk_exists(NULL, "/a", NULL, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_get(NULL, "/a", NULL, NULL, NULL, NULL, NULL), ZK_BADARGUMENTS);
    int state = 77;
    int64_t sid = 77;
    CHECK_RC(zk_state(NULL, &state), ZK_BADARGUMENTS);
    CHECK_RC(zk_session_id(NULL, &sid), ZK_BADARGUMENTS);
    CHECK(state == 77 && sid == 77);
    zk_free_string(NULL);
    zk_free_bytes(NULL);
    zk_free_strings(NULL);
    zk_free_acl_list(NULL);
    zk_free_client_infos(NULL);
    zk_free_op_results(NULL);
    CHECK_RC(zk_lock_free(NULL), ZK_OK);
    CHECK_RC(zk_leader_close(NULL), ZK_OK);

    zh = open_handle();
    CHECK(zh != NULL);
    /* garbage values on a live handle */
    CHECK_RC(zk_create(zh, NULL, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, "no-slash", NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, path_of("x"), NULL, 0, NULL, 0, 99, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, path_of("x"), NULL, 0, NULL, 0, -1, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, path_of("x"), NULL, 10, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, path_of("x"), NULL, 0, NULL, 3, ZK_PERSISTENT, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, path_of("x"), NULL, 0, NULL, 0, ZK_PERSISTENT_WITH_TTL, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, path_of("x"), NULL, 0, NULL, 0, ZK_PERSISTENT, 500, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_create(zh, "/bad\xff\xfe", NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_set(zh, path_of("x"), NULL, (size_t)-1, -1, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_set_acl(zh, path_of("x"), NULL, 0, -1, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_add_watch(zh, "/", 7, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_remove_watches(zh, "/", 42), ZK_BADARGUMENTS);
    CHECK_RC(zk_remove_watches(zh, "/", ZK_WATCHER_ANY), ZK_NOWATCHER);
    zk_op bad = {.type = 77, .path = "/"};
    CHECK_RC(zk_multi(zh, &bad, 1, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_multi(zh, NULL, 3, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_lock_acquire(NULL, 0, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_close(zh), ZK_OK);
}

static void test_open_with_options(void) {
    zk_options o = ZK_OPTIONS_INIT;
    CHECK(o.size == sizeof(zk_options) && o.session_id == 0 && o.passwd == NULL);
    o.session_timeout_ms = 10000;
    zk_handle *zh = NULL;
    CHECK_RC(zk_open_with(&zh, hosts, &o, NULL, NULL), ZK_OK);
    CHECK_RC(zk_wait_connected(zh, 10000), ZK_OK);
    CHECK_RC(zk_exists(zh, "/", NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);

    /* a request timeout: nothing listens on port 1, so the request times out */
    o.request_timeout_ms = 200;
    o.connect_timeout_ms = 100;
    CHECK_RC(zk_open_with(&zh, "127.0.0.1:1", &o, NULL, NULL), ZK_OK);
    int64_t t0 = now_ms();
    CHECK_RC(zk_exists(zh, "/", NULL, NULL, NULL), ZK_OPERATIONTIMEOUT);
    CHECK(now_ms() - t0 < 5000);
    CHECK_RC(zk_wait_connected(zh, 100), ZK_OPERATIONTIMEOUT);
    int state = -1;
    CHECK_RC(zk_state(zh, &state), ZK_OK);
    CHECK(state == ZK_STATE_CONNECTING);
    CHECK_RC(zk_close(zh), ZK_OK);
    CHECK_RC(zk_open_with(&zh, hosts, NULL, NULL, NULL), ZK_BADARGUMENTS);
}

/* ---------------------------------------------------------------- sync operations */

static void test_create_modes(zk_handle *zh) {
    char *created = NULL;
    zk_stat st;
    int64_t sid = 0;
    CHECK_RC(zk_session_id(zh, &sid), ZK_OK);
    CHECK(sid != 0);

    CHECK_RC(zk_create(zh, path_of("p"), (const uint8_t *)"v", 1, NULL, 0, ZK_PERSISTENT, 0, &created, &st), ZK_OK);
    CHECK(strcmp(created, path_of("p")) == 0);
    CHECK(st.ephemeral_owner == 0 && st.data_length == 1);
    zk_free_string(created);

    CHECK_RC(zk_create(zh, path_of("e"), NULL, 0, NULL, 0, ZK_EPHEMERAL, 0, NULL, &st), ZK_OK);
    CHECK(st.ephemeral_owner == sid);

    CHECK_RC(zk_create(zh, path_of("ps-"), NULL, 0, NULL, 0, ZK_PERSISTENT_SEQUENTIAL, 0, &created, NULL), ZK_OK);
    CHECK(strlen(created) == strlen(path_of("ps-")) + 10);
    zk_free_string(created);

    CHECK_RC(zk_create(zh, path_of("es-"), NULL, 0, NULL, 0, ZK_EPHEMERAL_SEQUENTIAL, 0, &created, &st), ZK_OK);
    CHECK(strncmp(created, path_of("es-"), strlen(path_of("es-"))) == 0 && st.ephemeral_owner == sid);
    zk_free_string(created);

    CHECK_RC(zk_create(zh, path_of("c"), NULL, 0, NULL, 0, ZK_CONTAINER, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_create(zh, path_of("ttl"), NULL, 0, NULL, 0, ZK_PERSISTENT_WITH_TTL, 60000, NULL, &st), ZK_OK);
    CHECK_RC(zk_create(zh, path_of("ttls-"), NULL, 0, NULL, 0, ZK_PERSISTENT_SEQUENTIAL_WITH_TTL, 60000, &created, NULL), ZK_OK);
    CHECK(strlen(created) == strlen(path_of("ttls-")) + 10);
    zk_free_string(created);

    CHECK_RC(zk_create(zh, path_of("p"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, &created, NULL), ZK_NODEEXISTS);
    CHECK(created == NULL);
    CHECK_RC(zk_create(zh, path_of("missing/child"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_NONODE);
    CHECK_RC(zk_create(zh, path_of("e/child"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_NOCHILDRENFOREPHEMERALS);
}

static void test_crud(zk_handle *zh) {
    zk_stat st, st2;
    uint8_t *data = NULL;
    size_t len = 99;

    CHECK_RC(zk_create(zh, path_of("crud"), (const uint8_t *)"hello", 5, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_exists(zh, path_of("crud"), NULL, NULL, &st), ZK_OK);
    CHECK(st.version == 0 && st.data_length == 5);
    CHECK_RC(zk_exists(zh, path_of("nope"), NULL, NULL, &st), ZK_NONODE);

    CHECK_RC(zk_get(zh, path_of("crud"), NULL, NULL, &data, &len, &st), ZK_OK);
    CHECK(len == 5 && memcmp(data, "hello", 5) == 0 && data[5] == 0);
    zk_free_bytes(data);

    CHECK_RC(zk_set(zh, path_of("crud"), (const uint8_t *)"world!", 6, 0, &st2), ZK_OK);
    CHECK(st2.version == 1 && st2.mzxid > st.mzxid);
    CHECK_RC(zk_set(zh, path_of("crud"), (const uint8_t *)"x", 1, 0, NULL), ZK_BADVERSION);
    CHECK_RC(zk_get(zh, path_of("nope"), NULL, NULL, &data, &len, NULL), ZK_NONODE);
    CHECK(data == NULL && len == 0);

    /* empty data */
    CHECK_RC(zk_set(zh, path_of("crud"), NULL, 0, -1, NULL), ZK_OK);
    CHECK_RC(zk_get(zh, path_of("crud"), NULL, NULL, &data, &len, NULL), ZK_OK);
    CHECK(len == 0 && data != NULL && data[0] == 0);
    zk_free_bytes(data);

    CHECK_RC(zk_delete(zh, path_of("crud"), 5), ZK_BADVERSION);
    CHECK_RC(zk_delete(zh, path_of("crud"), -1), ZK_OK);
    CHECK_RC(zk_delete(zh, path_of("crud"), -1), ZK_NONODE);
}

static void test_children(zk_handle *zh) {
    zk_strings *kids = NULL;
    zk_stat st;
    CHECK_RC(zk_create(zh, path_of("kids"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_children(zh, path_of("kids"), NULL, NULL, &kids, &st), ZK_OK);
    CHECK(kids->len == 0 && st.num_children == 0);
    zk_free_strings(kids);
    CHECK_RC(zk_create(zh, path_of("kids/a"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_create(zh, path_of("kids/b"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_children(zh, path_of("kids"), NULL, NULL, &kids, &st), ZK_OK);
    CHECK(kids->len == 2 && st.num_children == 2 && st.cversion == 2);
    CHECK((strcmp(kids->items[0], "a") == 0 && strcmp(kids->items[1], "b") == 0) ||
          (strcmp(kids->items[0], "b") == 0 && strcmp(kids->items[1], "a") == 0));
    zk_free_strings(kids);
    CHECK_RC(zk_delete(zh, path_of("kids"), -1), ZK_NOTEMPTY);
    CHECK_RC(zk_get_children(zh, path_of("nope"), NULL, NULL, &kids, NULL), ZK_NONODE);
    CHECK(kids == NULL);
}

static void test_acl_auth_whoami(zk_handle *zh) {
    zk_acl_list *acl = NULL;
    zk_stat st;
    zk_client_infos *me = NULL;
    CHECK_RC(zk_create(zh, path_of("acl"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_acl(zh, path_of("acl"), &acl, &st), ZK_OK);
    CHECK(acl->len == 1 && acl->items[0].perms == ZK_PERM_ALL);
    CHECK(strcmp(acl->items[0].scheme, "world") == 0 && strcmp(acl->items[0].id, "anyone") == 0);
    zk_free_acl_list(acl);

    zk_acl read_only = {ZK_PERM_READ, "world", "anyone"};
    CHECK_RC(zk_set_acl(zh, path_of("acl"), &read_only, 1, 3, NULL), ZK_BADVERSION);
    CHECK_RC(zk_set_acl(zh, path_of("acl"), &read_only, 1, 0, &st), ZK_OK);
    CHECK(st.aversion == 1);
    CHECK_RC(zk_set(zh, path_of("acl"), (const uint8_t *)"x", 1, -1, NULL), ZK_NOAUTH);

    /* digest auth: a node only "u1" may touch */
    CHECK_RC(zk_add_auth(zh, "digest", (const uint8_t *)"u1:pw", 5), ZK_OK);
    zk_acl creator = {ZK_PERM_ALL, "auth", ""};
    CHECK_RC(zk_create(zh, path_of("mine"), NULL, 0, &creator, 1, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_acl(zh, path_of("mine"), &acl, NULL), ZK_OK);
    CHECK(acl->len == 1 && strcmp(acl->items[0].scheme, "digest") == 0);
    CHECK(strncmp(acl->items[0].id, "u1:", 3) == 0);
    zk_free_acl_list(acl);

    CHECK_RC(zk_whoami(zh, &me), ZK_OK);
    int digest = 0;
    for (size_t i = 0; i < me->len; i++)
        if (strcmp(me->items[i].scheme, "digest") == 0 && strcmp(me->items[i].user, "u1") == 0) digest = 1;
    CHECK(digest);
    zk_free_client_infos(me);

    zk_handle *other = open_handle();
    CHECK(other != NULL);
    CHECK_RC(zk_get(other, path_of("mine"), NULL, NULL, NULL, NULL, NULL), ZK_NOAUTH);
    zk_close(other);
}

static void test_sync_ephemerals(zk_handle *zh) {
    zk_strings *eph = NULL;
    CHECK_RC(zk_sync(zh, "/"), ZK_OK);
    CHECK_RC(zk_create(zh, path_of("eph1"), NULL, 0, NULL, 0, ZK_EPHEMERAL, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_ephemerals(zh, root, &eph), ZK_OK);
    int found = 0;
    for (size_t i = 0; i < eph->len; i++)
        if (strcmp(eph->items[i], path_of("eph1")) == 0) found = 1;
    CHECK(found);
    zk_free_strings(eph);
    CHECK_RC(zk_get_ephemerals(zh, NULL, &eph), ZK_OK);
    CHECK(eph->len >= 1);
    zk_free_strings(eph);
}

static void test_multi(zk_handle *zh) {
    zk_op_results *res = NULL;
    zk_op ops[4];
    memset(ops, 0, sizeof ops);
    ops[0] = (zk_op){.type = ZK_OP_CREATE, .path = path_of("m1"), .data = (const uint8_t *)"a", .data_len = 1, .mode = ZK_PERSISTENT};
    ops[1] = (zk_op){.type = ZK_OP_CREATE, .path = path_of("m2-"), .mode = ZK_PERSISTENT_SEQUENTIAL};
    ops[2] = (zk_op){.type = ZK_OP_SET_DATA, .path = path_of("m1"), .data = (const uint8_t *)"bb", .data_len = 2, .version = 0};
    ops[3] = (zk_op){.type = ZK_OP_CHECK, .path = path_of("m1"), .version = 1};
    CHECK_RC(zk_multi(zh, ops, 4, &res), ZK_OK);
    CHECK(res->len == 4);
    CHECK(res->items[0].type == ZK_OP_CREATE && strcmp(res->items[0].path, path_of("m1")) == 0);
    CHECK(res->items[1].type == ZK_OP_CREATE && strlen(res->items[1].path) == strlen(path_of("m2-")) + 10);
    CHECK(res->items[2].type == ZK_OP_SET_DATA && res->items[2].has_stat && res->items[2].stat.version == 1);
    CHECK(res->items[3].type == ZK_OP_CHECK && res->items[3].path == NULL);
    zk_free_op_results(res);

    /* all or nothing */
    zk_op fail[2];
    memset(fail, 0, sizeof fail);
    fail[0] = (zk_op){.type = ZK_OP_CREATE, .path = path_of("m3"), .mode = ZK_PERSISTENT};
    fail[1] = (zk_op){.type = ZK_OP_DELETE, .path = path_of("m1"), .version = 7};
    CHECK_RC(zk_multi(zh, fail, 2, &res), ZK_BADVERSION);
    CHECK(res == NULL);
    CHECK_RC(zk_exists(zh, path_of("m3"), NULL, NULL, NULL), ZK_NONODE);
    CHECK_RC(zk_multi(zh, NULL, 0, &res), ZK_OK);
    CHECK(res->len == 0);
    zk_free_op_results(res);
}

static void test_session_resume(zk_handle *zh) {
    uint8_t *pw = NULL;
    size_t pw_len = 0;
    zk_handle *again = NULL;
    CHECK_RC(zk_session_password(zh, &pw, &pw_len), ZK_OK);
    CHECK(pw_len > 0);
    int64_t timeout = 0, sid = 0, sid_again = 0;
    CHECK_RC(zk_session_timeout_ms(zh, &timeout), ZK_OK);
    CHECK(timeout > 0);
    CHECK_RC(zk_session_id(zh, &sid), ZK_OK);
    CHECK_RC(zk_open(&again, hosts, 10000, sid, pw, pw_len, NULL, NULL), ZK_OK);
    zk_free_bytes(pw);
    CHECK_RC(zk_wait_connected(again, 10000), ZK_OK);
    CHECK_RC(zk_session_id(again, &sid_again), ZK_OK);
    CHECK(sid_again == sid);
    /* No check of zk_state(again) here: the server closed zh's connection when again took the
       session over, and zh reconnecting takes it back (as with Apache's server), so again may
       already be reconnecting; zk_wait_connected returning ZK_OK is the resume. */
    /* Dropping the resumed handle closes the shared session: do it last. */
    CHECK_RC(zk_close(again), ZK_OK);
}

/* ---------------------------------------------------------------- async operations */

typedef struct {
    volatile int done;
    int rc;
    char text[256];
    size_t len;
    zk_stat stat;
    int has_stat;
    size_t count;
} result;

static void on_void(int rc, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    bump(&r->done);
}

static void on_stat(int rc, const zk_stat *st, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    r->has_stat = st != NULL;
    if (st) r->stat = *st;
    bump(&r->done);
}

static void on_create(int rc, const char *path, const zk_stat *st, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    if (path) snprintf(r->text, sizeof r->text, "%s", path);
    if (st) r->stat = *st;
    bump(&r->done);
}

static void on_data(int rc, const uint8_t *data, size_t len, const zk_stat *st, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    r->len = len;
    if (data) snprintf(r->text, sizeof r->text, "%s", (const char *)data);
    if (st) r->stat = *st;
    bump(&r->done);
}

static void on_strings(int rc, const zk_strings *list, const zk_stat *st, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    r->count = list ? list->len : 0;
    r->has_stat = st != NULL;
    if (list && list->len) snprintf(r->text, sizeof r->text, "%s", list->items[0]);
    bump(&r->done);
}

static void on_acl(int rc, const zk_acl_list *acl, const zk_stat *st, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    r->count = acl ? acl->len : 0;
    if (acl && acl->len) snprintf(r->text, sizeof r->text, "%s", acl->items[0].scheme);
    (void)st;
    bump(&r->done);
}

static void on_whoami(int rc, const zk_client_infos *infos, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    r->count = infos ? infos->len : 0;
    bump(&r->done);
}

static void on_multi(int rc, const zk_op_results *res, void *ctx) {
    result *r = ctx;
    r->rc = rc;
    r->count = res ? res->len : 0;
    bump(&r->done);
}

#define AWAIT(r) CHECK(wait_for(&(r).done, 1))

static void test_async_ops(zk_handle *zh) {
    result r;
    memset(&r, 0, sizeof r);
    CHECK_RC(zk_acreate(zh, path_of("a"), (const uint8_t *)"async", 5, NULL, 0, ZK_PERSISTENT, 0, on_create, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && strcmp(r.text, path_of("a")) == 0);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_acreate(zh, path_of("a"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, on_create, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_NODEEXISTS && r.text[0] == 0);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_acreate(zh, path_of("attl"), NULL, 0, NULL, 0, ZK_PERSISTENT_WITH_TTL, 5000, on_create, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aexists(zh, path_of("a"), NULL, NULL, on_stat, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.has_stat && r.stat.data_length == 5);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aexists(zh, path_of("none"), NULL, NULL, on_stat, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_NONODE && !r.has_stat);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aget(zh, path_of("a"), NULL, NULL, on_data, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.len == 5 && strcmp(r.text, "async") == 0);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aset(zh, path_of("a"), (const uint8_t *)"v2", 2, 0, on_stat, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.stat.version == 1);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aset(zh, path_of("a"), (const uint8_t *)"v3", 2, 0, on_stat, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_BADVERSION);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aget_acl(zh, path_of("a"), on_acl, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.count == 1 && strcmp(r.text, "world") == 0);

    zk_acl all = {ZK_PERM_ALL, "world", "anyone"};
    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aset_acl(zh, path_of("a"), &all, 1, -1, on_stat, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.stat.aversion == 1);

    CHECK_RC(zk_create(zh, path_of("a/kid"), NULL, 0, NULL, 0, ZK_EPHEMERAL, 0, NULL, NULL), ZK_OK);
    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aget_children(zh, path_of("a"), NULL, NULL, on_strings, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.count == 1 && strcmp(r.text, "kid") == 0 && r.has_stat);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aget_ephemerals(zh, root, on_strings, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.count >= 1 && !r.has_stat);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_async(zh, "/", on_void, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aadd_auth(zh, "digest", (const uint8_t *)"u2:pw", 5, on_void, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_awhoami(zh, on_whoami, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.count >= 1);

    zk_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0] = (zk_op){.type = ZK_OP_CREATE, .path = path_of("am"), .mode = ZK_PERSISTENT};
    ops[1] = (zk_op){.type = ZK_OP_DELETE, .path = path_of("am"), .version = 0};
    memset(&r, 0, sizeof r);
    CHECK_RC(zk_amulti(zh, ops, 2, on_multi, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK && r.count == 2);

    memset(&r, 0, sizeof r);
    CHECK_RC(zk_adelete(zh, path_of("a/kid"), -1, on_void, &r), ZK_OK);
    AWAIT(r);
    CHECK(r.rc == ZK_OK);

    /* a NULL completion is allowed */
    CHECK_RC(zk_adelete(zh, path_of("a"), -1, NULL, NULL), ZK_OK);
    CHECK_RC(zk_aget(zh, NULL, NULL, NULL, on_data, &r), ZK_BADARGUMENTS);
}

/* ---------------------------------------------------------------- watches */

typedef struct {
    volatile int fired;
    int type;
    int state;
    char path[256];
    int types[16];
    int states[16];
} watch_log;

static void on_watch(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    watch_log *w = ctx;
    (void)zh;
    int n = load(&w->fired);
    if (n < 16) w->types[n] = type;
    if (n < 16) w->states[n] = state;
    w->type = type;
    w->state = state;
    snprintf(w->path, sizeof w->path, "%s", path);
    bump(&w->fired);
}

static void test_watches(zk_handle *zh) {
    watch_log w;
    zk_stat st;

    /* data watch via get */
    memset(&w, 0, sizeof w);
    CHECK_RC(zk_create(zh, path_of("w"), (const uint8_t *)"0", 1, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get(zh, path_of("w"), on_watch, &w, NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_set(zh, path_of("w"), (const uint8_t *)"1", 1, -1, NULL), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_CHANGED_EVENT && w.state == ZK_STATE_CONNECTED && strcmp(w.path, path_of("w")) == 0);
    /* one-shot: a second change does not fire */
    CHECK_RC(zk_set(zh, path_of("w"), (const uint8_t *)"2", 1, -1, NULL), ZK_OK);
    usleep(200000);
    CHECK(load(&w.fired) == 1);

    /* exists watch on a missing node */
    memset(&w, 0, sizeof w);
    CHECK_RC(zk_exists(zh, path_of("later"), on_watch, &w, &st), ZK_NONODE);
    CHECK_RC(zk_create(zh, path_of("later"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_CREATED_EVENT);

    /* exists watch on a present node: delete */
    memset(&w, 0, sizeof w);
    CHECK_RC(zk_exists(zh, path_of("later"), on_watch, &w, &st), ZK_OK);
    CHECK_RC(zk_delete(zh, path_of("later"), -1), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_DELETED_EVENT);

    /* children watch */
    memset(&w, 0, sizeof w);
    CHECK_RC(zk_get_children(zh, path_of("w"), on_watch, &w, NULL, NULL), ZK_OK);
    CHECK_RC(zk_create(zh, path_of("w/c"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_CHILD_EVENT && strcmp(w.path, path_of("w")) == 0);

    /* async forms with watches */
    result r;
    memset(&w, 0, sizeof w);
    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aget(zh, path_of("w"), on_watch, &w, on_data, &r), ZK_OK);
    AWAIT(r);
    CHECK_RC(zk_set(zh, path_of("w"), (const uint8_t *)"3", 1, -1, NULL), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_CHANGED_EVENT);
    memset(&w, 0, sizeof w);
    memset(&r, 0, sizeof r);
    CHECK_RC(zk_aexists(zh, path_of("w/c"), on_watch, &w, on_stat, &r), ZK_OK);
    AWAIT(r);
    memset(&r, 0, sizeof r);
    watch_log wc;
    memset(&wc, 0, sizeof wc);
    CHECK_RC(zk_aget_children(zh, path_of("w"), on_watch, &wc, on_strings, &r), ZK_OK);
    AWAIT(r);
    CHECK_RC(zk_delete(zh, path_of("w/c"), -1), ZK_OK);
    CHECK(wait_for(&w.fired, 1) && wait_for(&wc.fired, 1));
    CHECK(w.type == ZK_DELETED_EVENT && wc.type == ZK_CHILD_EVENT);

    /* removal of one-shot watches */
    memset(&w, 0, sizeof w);
    memset(&wc, 0, sizeof wc);
    CHECK_RC(zk_get(zh, path_of("w"), on_watch, &w, NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_children(zh, path_of("w"), on_watch, &wc, NULL, NULL), ZK_OK);
    CHECK_RC(zk_remove_watches(zh, path_of("w"), ZK_WATCHER_DATA), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_DATA_WATCH_REMOVED_EVENT);
    CHECK_RC(zk_remove_watches(zh, path_of("w"), ZK_WATCHER_DATA), ZK_NOWATCHER);
    CHECK_RC(zk_set(zh, path_of("w"), (const uint8_t *)"4", 1, -1, NULL), ZK_OK);
    usleep(200000);
    CHECK(load(&w.fired) == 1);
    CHECK(load(&wc.fired) == 0);
    CHECK_RC(zk_remove_watches(zh, path_of("w"), ZK_WATCHER_CHILDREN), ZK_OK);
    CHECK(wait_for(&wc.fired, 1));
    CHECK(wc.type == ZK_CHILD_WATCH_REMOVED_EVENT);
}

static void test_persistent_watches(zk_handle *zh) {
    watch_log p, rw;
    memset(&p, 0, sizeof p);
    memset(&rw, 0, sizeof rw);
    CHECK_RC(zk_create(zh, path_of("pw"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_add_watch(zh, path_of("pw"), ZK_ADD_WATCH_PERSISTENT, on_watch, &p), ZK_OK);
    /* one mode per path and session (as in Apache): the recursive one on another handle */
    zk_handle *other = open_handle();
    CHECK(other != NULL);
    CHECK_RC(zk_add_watch(other, path_of("pw"), ZK_ADD_WATCH_PERSISTENT_RECURSIVE, on_watch, &rw), ZK_OK);
    CHECK_RC(zk_set(zh, path_of("pw"), (const uint8_t *)"1", 1, -1, NULL), ZK_OK);
    CHECK_RC(zk_set(zh, path_of("pw"), (const uint8_t *)"2", 1, -1, NULL), ZK_OK);
    CHECK(wait_for(&p.fired, 2) && wait_for(&rw.fired, 2));
    CHECK(p.types[0] == ZK_CHANGED_EVENT && p.types[1] == ZK_CHANGED_EVENT);
    /* a grandchild: only the recursive watch sees it */
    CHECK_RC(zk_create(zh, path_of("pw/a"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_create(zh, path_of("pw/a/b"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK(wait_for(&rw.fired, 4));
    CHECK(rw.types[3] == ZK_CREATED_EVENT && strcmp(rw.path, path_of("pw/a/b")) == 0);
    CHECK(wait_for(&p.fired, 3)); /* the child created under pw */
    CHECK(p.types[2] == ZK_CHILD_EVENT);

    CHECK_RC(zk_remove_watches(zh, path_of("pw"), ZK_WATCHER_PERSISTENT), ZK_OK);
    CHECK(wait_for(&p.fired, 4));
    CHECK(p.types[3] == ZK_PERSISTENT_WATCH_REMOVED_EVENT);
    CHECK_RC(zk_set(zh, path_of("pw"), (const uint8_t *)"3", 1, -1, NULL), ZK_OK);
    CHECK(wait_for(&rw.fired, 5));
    usleep(200000);
    CHECK(load(&p.fired) == 4);
    CHECK_RC(zk_remove_watches(other, path_of("pw"), ZK_WATCHER_ANY), ZK_OK);
    CHECK(wait_for(&rw.fired, 6));
    CHECK(rw.types[5] == ZK_PERSISTENT_WATCH_REMOVED_EVENT);
    /* a watch still set when its handle closes ends with one Closed session event,
       delivered before zk_close returns */
    watch_log late;
    memset(&late, 0, sizeof late);
    CHECK_RC(zk_add_watch(other, path_of("pw"), ZK_ADD_WATCH_PERSISTENT_RECURSIVE, on_watch, &late), ZK_OK);
    CHECK_RC(zk_close(other), ZK_OK);
    CHECK(load(&late.fired) == 1);
    CHECK(late.type == ZK_SESSION_EVENT && late.state == ZK_STATE_CLOSED && late.path[0] == 0);
}

/* ---------------------------------------------------------------- threads and close */

static pthread_t dispatch_thread;
static volatile int dispatch_seen;

static void on_thread(int rc, void *ctx) {
    (void)rc;
    (void)ctx;
    dispatch_thread = pthread_self();
    bump(&dispatch_seen);
}

static void test_callback_thread(zk_handle *zh) {
    dispatch_seen = 0;
    CHECK_RC(zk_async(zh, "/", on_thread, NULL), ZK_OK);
    CHECK(wait_for(&dispatch_seen, 1));
    pthread_t first = dispatch_thread;
    CHECK(!pthread_equal(first, pthread_self()));
    char name[32] = "";
    pthread_getname_np(first, name, sizeof name);
    CHECK(strcmp(name, "zk-dispatch") == 0);
    CHECK_RC(zk_async(zh, "/", on_thread, NULL), ZK_OK);
    CHECK(wait_for(&dispatch_seen, 2));
    CHECK(pthread_equal(first, dispatch_thread));
}

/* close from inside a watcher, after a synchronous call made from the callback */
static volatile int closed_in_cb;

static void close_in_watch(zk_handle *zh, int type, int state, const char *path, void *ctx) {
    (void)type;
    (void)state;
    (void)path;
    (void)ctx;
    zk_stat st;
    int rc = zk_exists(zh, "/", NULL, NULL, &st); /* sync call from a callback */
    if (rc == ZK_OK && zk_close(zh) == ZK_OK) bump(&closed_in_cb);
}

static volatile int go_close;

/* Holds the dispatch thread until the test has queued more work, then closes. */
static volatile int second_close_rc, use_after_close_rc;

static void close_in_completion(int rc, void *ctx) {
    zk_handle *zh = ctx;
    (void)rc;
    wait_for(&go_close, 1);
    if (zk_close(zh) == ZK_OK) bump(&closed_in_cb);
    /* the handle is gone for every call from here on, also inside its own callback */
    second_close_rc = zk_close(zh);
    use_after_close_rc = zk_aexists(zh, "/", NULL, NULL, NULL, NULL);
}

static void close_in_state(zk_handle *zh, int state, void *ctx) {
    (void)ctx;
    if (state == ZK_STATE_CONNECTED && zk_close(zh) == ZK_OK) bump(&closed_in_cb);
}

static void test_close_from_callbacks(zk_handle *zh) {
    closed_in_cb = 0;
    zk_handle *a = open_handle();
    CHECK(a != NULL);
    CHECK_RC(zk_create(zh, path_of("cc"), NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_exists(a, path_of("cc"), close_in_watch, NULL, NULL), ZK_OK);
    CHECK_RC(zk_set(zh, path_of("cc"), (const uint8_t *)"x", 1, -1, NULL), ZK_OK);
    CHECK(wait_for(&closed_in_cb, 1));

    /* close in a completion while more operations are pending: they still complete */
    zk_handle *b = open_handle();
    CHECK(b != NULL);
    result after[10];
    memset(after, 0, sizeof after);
    go_close = 0;
    CHECK_RC(zk_async(b, "/", close_in_completion, b), ZK_OK);
    int accepted = 0;
    for (int i = 0; i < 10; i++) accepted += zk_aexists(b, "/", NULL, NULL, on_stat, &after[i]) == ZK_OK;
    bump(&go_close);
    CHECK(accepted == 10);
    CHECK(wait_for(&closed_in_cb, 2));
    CHECK(second_close_rc == ZK_BADARGUMENTS && use_after_close_rc == ZK_BADARGUMENTS);
    for (int i = 0; i < 10; i++) CHECK(wait_for(&after[i].done, 1));
    usleep(50000);
    for (int i = 0; i < 10; i++) CHECK(load(&after[i].done) == 1);

    zk_handle *c = NULL;
    CHECK_RC(zk_open(&c, hosts, 10000, 0, NULL, 0, close_in_state, NULL), ZK_OK);
    CHECK(wait_for(&closed_in_cb, 3));
}

/* pending async operations complete when the handle closes */
static void test_close_with_pending(void) {
    result r[20];
    memset(r, 0, sizeof r);
    zk_handle *zh = open_handle();
    CHECK(zh != NULL);
    for (int i = 0; i < 20; i++) CHECK_RC(zk_aexists(zh, "/", NULL, NULL, on_stat, &r[i]), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);
    for (int i = 0; i < 20; i++) {
        CHECK(load(&r[i].done) == 1);
        CHECK(r[i].rc == ZK_OK || r[i].rc == ZK_CLOSING || r[i].rc == ZK_CONNECTIONLOSS);
    }
    /* ops on a handle that never connects, closed at once */
    zk_handle *never = NULL;
    CHECK_RC(zk_open(&never, "127.0.0.1:1", 2000, 0, NULL, 0, NULL, NULL), ZK_OK);
    memset(r, 0, sizeof r);
    CHECK_RC(zk_aget(never, "/", NULL, NULL, on_data, &r[0]), ZK_OK);
    CHECK_RC(zk_close(never), ZK_OK);
    CHECK(load(&r[0].done) == 1 && r[0].rc != ZK_OK);
}

/* many threads on one handle: every accepted async op completes exactly once */
typedef struct {
    zk_handle *zh;
    int id;
    volatile int completions;
    int submitted;
    int sync_failures;
} hammer;

static void count_completion(int rc, const zk_stat *st, void *ctx) {
    (void)rc;
    (void)st;
    bump(&((hammer *)ctx)->completions);
}

static void *hammer_thread(void *arg) {
    hammer *h = arg;
    char path[256];
    for (int i = 0; i < 100; i++) {
        snprintf(path, sizeof path, "%s/t%d-%d", root, h->id, i);
        if (zk_create(h->zh, path, (const uint8_t *)"x", 1, NULL, 0, ZK_EPHEMERAL, 0, NULL, NULL) != ZK_OK)
            h->sync_failures++;
        if (zk_aset(h->zh, path, (const uint8_t *)"y", 1, -1, count_completion, h) == ZK_OK) h->submitted++;
        if (zk_aexists(h->zh, path, NULL, NULL, count_completion, h) == ZK_OK) h->submitted++;
    }
    return NULL;
}

static void test_concurrent_use(zk_handle *zh) {
    hammer h[4];
    pthread_t t[4];
    memset(h, 0, sizeof h);
    for (int i = 0; i < 4; i++) {
        h[i].zh = zh;
        h[i].id = i;
        pthread_create(&t[i], NULL, hammer_thread, &h[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        CHECK(h[i].sync_failures == 0 && h[i].submitted == 200);
        CHECK(wait_for(&h[i].completions, 200));
    }
    zk_stat st;
    CHECK_RC(zk_exists(zh, root, NULL, NULL, &st), ZK_OK);
    CHECK(st.num_children == 400);
    usleep(50000);
    for (int i = 0; i < 4; i++) CHECK(load(&h[i].completions) == 200);
}

/* ---------------------------------------------------------------- states across a restart */

static volatile int states[64];
static volatile int n_states;

static void on_state(zk_handle *zh, int state, void *ctx) {
    (void)zh;
    (void)ctx;
    int n = load(&n_states);
    if (n < 64) states[n] = state;
    bump(&n_states);
}

static int saw_state(int state, int from) {
    for (int i = from; i < load(&n_states) && i < 64; i++)
        if (states[i] == state) return i + 1;
    return 0;
}

static int wait_state(int state, int from) {
    int64_t deadline = now_ms() + 20000;
    int at;
    while (!(at = saw_state(state, from))) {
        if (now_ms() > deadline) return 0;
        usleep(5000);
    }
    return at;
}

static void test_states_across_restart(void) {
    if (!getenv("ZK_TEST_SERVER_CTL")) {
        fprintf(stderr, "  (skipped: ZK_TEST_SERVER_CTL not set)\n");
        return;
    }
    n_states = 0;
    zk_handle *zh = NULL;
    CHECK_RC(zk_open(&zh, hosts, 15000, 0, NULL, 0, on_state, NULL), ZK_OK);
    int at = wait_state(ZK_STATE_CONNECTED, 0);
    CHECK(at);
    int state = -1;
    CHECK_RC(zk_state(zh, &state), ZK_OK);
    CHECK(state == ZK_STATE_CONNECTED);
    int64_t sid = 0, sid_after = 0;
    CHECK_RC(zk_session_id(zh, &sid), ZK_OK);
    snprintf(root, sizeof root, "/ctest-%d-restart", (int)getpid());
    CHECK_RC(zk_create(zh, root, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    watch_log w;
    memset(&w, 0, sizeof w);
    CHECK_RC(zk_get(zh, root, on_watch, &w, NULL, NULL, NULL), ZK_OK);
    int crashed = server_ctl("crash");
    int down = wait_state(ZK_STATE_SUSPENDED, at);
    int state_down = -1;
    zk_state(zh, &state_down);
    /* a request made while down waits for the reconnect (the session is still alive) */
    result pending;
    memset(&pending, 0, sizeof pending);
    int rc_down = zk_aexists(zh, "/", NULL, NULL, on_stat, &pending);
    usleep(300000);
    int done_down = load(&pending.done);
    int restarted = server_ctl("start");
    CHECK(crashed == 0 && restarted == 0);
    CHECK(down);
    CHECK(state_down == ZK_STATE_SUSPENDED);
    CHECK_RC(rc_down, ZK_OK);
    CHECK(done_down == 0 || pending.rc == ZK_CONNECTIONLOSS);
    CHECK(wait_state(ZK_STATE_CONNECTED, down));
    CHECK(wait_for(&pending.done, 1));
    CHECK(pending.rc == ZK_OK || pending.rc == ZK_CONNECTIONLOSS);
    CHECK_RC(zk_wait_connected(zh, 10000), ZK_OK);
    CHECK_RC(zk_session_id(zh, &sid_after), ZK_OK);
    CHECK(sid_after == sid);
    CHECK_RC(zk_exists(zh, "/", NULL, NULL, NULL), ZK_OK);
    /* the watch set before the crash was re-registered on the new connection */
    CHECK_RC(zk_set(zh, root, (const uint8_t *)"after", 5, -1, NULL), ZK_OK);
    CHECK(wait_for(&w.fired, 1));
    CHECK(w.type == ZK_CHANGED_EVENT);
    int closed_from = load(&n_states);
    CHECK_RC(zk_close(zh), ZK_OK);
    /* the state callback's last call is CLOSED, made before zk_close returned */
    CHECK(load(&n_states) == closed_from + 1 && states[closed_from] == ZK_STATE_CLOSED);
}

/* ---------------------------------------------------------------- recipes */

static void test_lock(zk_handle *zh) {
    zk_handle *other = open_handle();
    CHECK(other != NULL);
    zk_lock *a = NULL, *b = NULL;
    int got = -1;
    CHECK_RC(zk_lock_new(zh, path_of("lock"), &a), ZK_OK);
    zk_lock *bad = NULL;
    CHECK_RC(zk_lock_new(zh, "relative", &bad), ZK_BADARGUMENTS);
    CHECK(bad == NULL);
    CHECK_RC(zk_lock_new(other, path_of("lock"), &b), ZK_OK);
    int held = -1;
    int64_t token = 0, token_b = 0;
    CHECK_RC(zk_lock_acquire(a, -1, &got), ZK_OK);
    CHECK_RC(zk_lock_is_held(a, &held), ZK_OK);
    CHECK(got == 1 && held == 1);
    CHECK_RC(zk_lock_fencing_token(a, &token), ZK_OK);
    CHECK(token > 0);
    CHECK_RC(zk_lock_acquire(b, 0, &got), ZK_OK);
    CHECK_RC(zk_lock_is_held(b, &held), ZK_OK);
    CHECK_RC(zk_lock_fencing_token(b, &token_b), ZK_OK);
    CHECK(got == 0 && held == 0 && token_b == -1);
    CHECK_RC(zk_lock_is_held(b, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_lock_fencing_token(b, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_lock_acquire(b, 200, &got), ZK_OK);
    CHECK(got == 0);
    CHECK_RC(zk_lock_release(a), ZK_OK);
    CHECK_RC(zk_lock_is_held(a, &held), ZK_OK);
    CHECK(held == 0);
    CHECK_RC(zk_lock_acquire(b, 5000, &got), ZK_OK);
    CHECK_RC(zk_lock_fencing_token(b, &token_b), ZK_OK);
    CHECK(got == 1 && token_b > token);
    CHECK_RC(zk_lock_free(b), ZK_OK); /* releases */
    CHECK_RC(zk_lock_free(b), ZK_BADARGUMENTS);
    CHECK_RC(zk_lock_is_held(b, &held), ZK_BADARGUMENTS);
    CHECK_RC(zk_lock_acquire(a, 5000, &got), ZK_OK);
    CHECK(got == 1);
    CHECK_RC(zk_lock_free(a), ZK_OK);
    zk_close(other);
}

static volatile int lead_events;
static volatile int leading;

static void on_leader(int is_leader, int64_t token, void *ctx) {
    (void)ctx;
    (void)token;
    __atomic_store_n(&leading, is_leader, __ATOMIC_SEQ_CST);
    bump(&lead_events);
}

static void test_leader(zk_handle *zh) {
    zk_handle *other = open_handle();
    CHECK(other != NULL);
    zk_leader *first = NULL, *second = NULL;
    int is = -1;
    lead_events = 0;
    CHECK_RC(zk_leader_start(zh, path_of("election"), "first", NULL, NULL, &first), ZK_OK);
    int leads = -1;
    int64_t token = 0;
    CHECK_RC(zk_leader_wait(first, 5000, &is), ZK_OK);
    CHECK_RC(zk_leader_is_leader(first, &leads), ZK_OK);
    CHECK_RC(zk_leader_fencing_token(first, &token), ZK_OK);
    CHECK(is == 1 && leads == 1 && token > 0);
    CHECK_RC(zk_leader_start(other, path_of("election"), "second", on_leader, NULL, &second), ZK_OK);
    CHECK_RC(zk_leader_wait(second, 300, &is), ZK_OK);
    CHECK_RC(zk_leader_is_leader(second, &leads), ZK_OK);
    CHECK_RC(zk_leader_fencing_token(second, &token), ZK_OK);
    CHECK(is == 0 && leads == 0 && token == -1);
    CHECK_RC(zk_leader_is_leader(second, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_leader_close(first), ZK_OK);
    CHECK_RC(zk_leader_close(first), ZK_BADARGUMENTS);
    CHECK_RC(zk_leader_is_leader(first, &leads), ZK_BADARGUMENTS);
    CHECK(wait_for(&lead_events, 1));
    CHECK(load(&leading) == 1);
    CHECK_RC(zk_leader_wait(second, 5000, &is), ZK_OK);
    CHECK(is == 1);
    /* closing the handle under a leader that leads: it hears the loss before zk_close
       returns, and nothing after */
    CHECK_RC(zk_close(other), ZK_OK);
    CHECK(load(&lead_events) == 2 && load(&leading) == 0);
    CHECK_RC(zk_leader_close(second), ZK_OK);
    CHECK(load(&lead_events) == 2);
}

/* ---------------------------------------------------------------- close semantics */

/* Counts every call of a completion: exactly-once means 1 for every accepted op. */
typedef struct {
    volatile int calls;
    volatile int rc;
} once;

static void once_stat(int rc, const zk_stat *st, void *ctx) {
    once *o = ctx;
    (void)st;
    o->rc = rc;
    bump(&o->calls);
}

static void once_void(int rc, void *ctx) {
    once *o = ctx;
    o->rc = rc;
    bump(&o->calls);
}

static void once_create(int rc, const char *path, const zk_stat *st, void *ctx) {
    (void)path;
    once_stat(rc, st, ctx);
}

static void once_data(int rc, const uint8_t *data, size_t len, const zk_stat *st, void *ctx) {
    (void)data;
    (void)len;
    once_stat(rc, st, ctx);
}

static void test_double_close_and_use_after_close(void) {
    zk_handle *zh = open_handle();
    CHECK(zh != NULL);
    zk_lock *lock = NULL;
    CHECK_RC(zk_lock_new(zh, "/ctest-lock", &lock), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_BADARGUMENTS);
    /* every kind of call on the closed handle: refused, nothing called back */
    once o;
    memset(&o, 0, sizeof o);
    int state = -1;
    int64_t sid = -1;
    uint8_t *pw = NULL;
    size_t pw_len = 0;
    zk_strings *kids = NULL;
    CHECK_RC(zk_exists(zh, "/", NULL, NULL, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_get_children(zh, "/", NULL, NULL, &kids, NULL), ZK_BADARGUMENTS);
    CHECK(kids == NULL);
    CHECK_RC(zk_aexists(zh, "/", NULL, NULL, once_stat, &o), ZK_BADARGUMENTS);
    CHECK_RC(zk_acreate(zh, "/x", NULL, 0, NULL, 0, ZK_PERSISTENT, 0, once_create, &o), ZK_BADARGUMENTS);
    CHECK_RC(zk_async(zh, "/", once_void, &o), ZK_BADARGUMENTS);
    CHECK_RC(zk_wait_connected(zh, 0), ZK_BADARGUMENTS);
    CHECK_RC(zk_state(zh, &state), ZK_BADARGUMENTS);
    CHECK_RC(zk_session_id(zh, &sid), ZK_BADARGUMENTS);
    CHECK_RC(zk_session_password(zh, &pw, &pw_len), ZK_BADARGUMENTS);
    CHECK(state == -1 && sid == -1 && pw == NULL);
    CHECK_RC(zk_add_watch(zh, "/", ZK_ADD_WATCH_PERSISTENT, on_watch, NULL), ZK_BADARGUMENTS);
    zk_lock *late = NULL;
    CHECK_RC(zk_lock_new(zh, "/ctest-lock", &late), ZK_BADARGUMENTS);
    CHECK(late == NULL);
    CHECK(load(&o.calls) == 0);
    /* a lock made before the close: its calls fail, it frees once */
    int held = -1;
    CHECK_RC(zk_lock_is_held(lock, &held), ZK_OK);
    CHECK(held == 0);
    CHECK_RC(zk_lock_acquire(lock, 0, &held), ZK_CLOSING);
    CHECK_RC(zk_lock_free(lock), ZK_OK);
    CHECK_RC(zk_lock_free(lock), ZK_BADARGUMENTS);
    /* ids of one kind are not ids of another */
    CHECK_RC(zk_close((zk_handle *)lock), ZK_BADARGUMENTS);
    /* a pointer that never was a handle */
    uint64_t fake[16];
    memset(fake, 0xab, sizeof fake);
    CHECK_RC(zk_close((zk_handle *)fake), ZK_BADARGUMENTS);
    CHECK_RC(zk_exists((zk_handle *)fake, "/", NULL, NULL, NULL), ZK_BADARGUMENTS);
}

/* An op issued just before close: its completion comes exactly once, before zk_close
   returns, with its real result or ZK_CLOSING. Repeated to land in every window. */
static void test_completion_just_before_close(void) {
    for (int round = 0; round < 40; round++) {
        zk_handle *zh = open_handle();
        CHECK(zh != NULL);
        once create, set, get, sync_;
        memset(&create, 0, sizeof create);
        memset(&set, 0, sizeof set);
        memset(&get, 0, sizeof get);
        memset(&sync_, 0, sizeof sync_);
        watch_log w;
        memset(&w, 0, sizeof w);
        char path[160];
        snprintf(path, sizeof path, "%s-%d", root, round);
        CHECK_RC(zk_acreate(zh, path, NULL, 0, NULL, 0, ZK_EPHEMERAL, 0, once_create, &create), ZK_OK);
        CHECK_RC(zk_aset(zh, path, NULL, 0, -1, once_stat, &set), ZK_OK);
        CHECK_RC(zk_aget(zh, "/", on_watch, &w, once_data, &get), ZK_OK);
        if (round % 2) usleep(200 * round); /* vary where close lands, not a wait */
        CHECK_RC(zk_async(zh, "/", once_void, &sync_), ZK_OK);
        CHECK_RC(zk_close(zh), ZK_OK);
        CHECK(create.calls == 1 && set.calls == 1 && get.calls == 1 && sync_.calls == 1);
        CHECK(create.rc == ZK_OK || create.rc == ZK_CLOSING);
        if (!(set.rc == ZK_OK || set.rc == ZK_CLOSING || (set.rc == ZK_NONODE && create.rc != ZK_OK))) fprintf(stderr, "  round %d: create %d, set %d\n", round, create.rc, set.rc);
        CHECK(set.rc == ZK_OK || set.rc == ZK_CLOSING || (set.rc == ZK_NONODE && create.rc != ZK_OK));
        CHECK(get.rc == ZK_OK || get.rc == ZK_CLOSING);
        CHECK(sync_.rc == ZK_OK || sync_.rc == ZK_CLOSING);
        /* the get's watch, if it was set, ended with the close */
        CHECK(load(&w.fired) <= 1);
        CHECK(get.rc != ZK_OK || (w.fired == 1 && w.type == ZK_SESSION_EVENT && w.state == ZK_STATE_CLOSED));
    }
}

/* Threads issue async ops as fast as they can while another thread closes the handle:
   every op that was accepted (ZK_OK) is completed exactly once by the time zk_close
   returns, every refused one (ZK_BADARGUMENTS/ZK_CLOSING) never. */
#define RACE_OPS 3000
typedef struct {
    zk_handle *volatile *zh;
    once slots[RACE_OPS];
    int accepted[RACE_OPS];
    int issued;
    int bad_rc;
    volatile int *started;
} racer;

static void *race_thread(void *arg) {
    racer *r = arg;
    for (int i = 0; i < RACE_OPS; i++) {
        int rc = zk_aexists(*r->zh, "/", NULL, NULL, once_stat, &r->slots[i]);
        r->issued = i + 1;
        if (rc == ZK_OK) {
            r->accepted[i] = 1;
            if (i == 20) bump(r->started);
        } else if (rc == ZK_BADARGUMENTS || rc == ZK_CLOSING) {
            break;
        } else {
            r->bad_rc = rc;
            break;
        }
    }
    return NULL;
}

static int check_racers(racer *r, int n, const char *what) {
    int ok = 1, accepted = 0;
    for (int t = 0; t < n; t++) {
        if (r[t].bad_rc) {
            fprintf(stderr, "  %s: an op returned %d\n", what, r[t].bad_rc);
            ok = 0;
        }
        for (int i = 0; i < r[t].issued; i++) {
            int want = r[t].accepted[i];
            accepted += want;
            if (load(&r[t].slots[i].calls) != want) {
                fprintf(stderr, "  %s: op %d of thread %d: %d completion(s), want %d\n", what, i, t,
                        load(&r[t].slots[i].calls), want);
                ok = 0;
            }
        }
    }
    printf("    %s: %d ops accepted, each completed once\n", what, accepted);
    return ok;
}

static void test_close_races_with_ops(void) {
    static racer r[3];
    memset(r, 0, sizeof r);
    zk_handle *volatile zh = open_handle();
    CHECK(zh != NULL);
    volatile int started = 0;
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        r[i].zh = &zh;
        r[i].started = &started;
        pthread_create(&t[i], NULL, race_thread, &r[i]);
    }
    int running = wait_for(&started, 3);
    int rc = zk_close(zh);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    CHECK(running);
    CHECK_RC(rc, ZK_OK);
    CHECK(check_racers(r, 3, "close during ops"));
}

/* Close while the server is paused (SIGSTOP) with many ops and watches outstanding:
   close waits for the server's answer to closeSession until the connect timeout, and
   every completion and watch still gets exactly one call. Then the same with the server
   gone (SIGKILL): the ops wait for a reconnect that close ends.
   Each run works on its own node under root: the paused server, once resumed, still
   applies the sets it had read before the close, possibly after the next run set its
   watches, and those must not fire them. */
#define PAUSED_OPS 300

static void close_with_server(const char *down, const char *up, const char *name, const char *what) {
    char node[256];
    snprintf(node, sizeof node, "%s", path_of(name));
    static once ops[PAUSED_OPS];
    static watch_log watches[3];
    memset(ops, 0, sizeof ops);
    memset(watches, 0, sizeof watches);
    n_states = 0;
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 20000;
    o.connect_timeout_ms = 1500;
    zk_handle *zh = NULL;
    CHECK_RC(zk_open_with(&zh, hosts, &o, on_state, NULL), ZK_OK);
    CHECK_RC(zk_wait_connected(zh, 10000), ZK_OK);
    int created = zk_create(zh, root, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL);
    CHECK(created == ZK_OK || created == ZK_NODEEXISTS);
    CHECK_RC(zk_create(zh, node, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get(zh, node, on_watch, &watches[0], NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get_children(zh, node, on_watch, &watches[1], NULL, NULL), ZK_OK);
    CHECK_RC(zk_add_watch(zh, node, ZK_ADD_WATCH_PERSISTENT, on_watch, &watches[2]), ZK_OK);
    int stopped = server_ctl(down);
    int accepted = 0;
    for (int i = 0; i < PAUSED_OPS; i++) {
        int rc;
        switch (i % 3) {
        case 0: rc = zk_aexists(zh, "/", NULL, NULL, once_stat, &ops[i]); break;
        case 1: rc = zk_aset(zh, node, (const uint8_t *)"x", 1, -1, once_stat, &ops[i]); break;
        default: rc = zk_aget(zh, node, NULL, NULL, once_data, &ops[i]); break;
        }
        accepted += rc == ZK_OK;
    }
    int64_t t0 = now_ms();
    int close_rc = zk_close(zh);
    int64_t took = now_ms() - t0;
    int restarted = server_ctl(up);
    CHECK(stopped == 0 && restarted == 0);
    CHECK_RC(close_rc, ZK_OK);
    CHECK(accepted == PAUSED_OPS);
    int calls_ok = 1, closing = 0;
    for (int i = 0; i < PAUSED_OPS; i++) {
        if (ops[i].calls != 1) calls_ok = 0;
        closing += ops[i].rc == ZK_CLOSING;
    }
    CHECK(calls_ok);
    CHECK(closing > 0);
    for (int i = 0; i < 3; i++) {
        /* one-shot: only the Closed event; persistent: maybe a Suspended session event
           first (server killed), and exactly one Closed, last */
        int fired = load(&watches[i].fired), closed = 0;
        for (int e = 0; e < fired && e < 16; e++) closed += watches[i].states[e] == ZK_STATE_CLOSED;
        CHECK(i == 2 ? fired >= 1 : fired == 1);
        CHECK(closed == 1);
        CHECK(watches[i].type == ZK_SESSION_EVENT && watches[i].state == ZK_STATE_CLOSED);
    }
    int n = load(&n_states);
    CHECK(n > 0 && states[n - 1] == ZK_STATE_CLOSED);
    printf("    %s: close took %lld ms; %d of %d ops ended with ZK_CLOSING\n", what, (long long)took,
           closing, PAUSED_OPS);
}

static void test_close_while_server_down(void) {
    if (!getenv("ZK_TEST_SERVER_CTL")) {
        fprintf(stderr, "  (skipped: ZK_TEST_SERVER_CTL not set)\n");
        return;
    }
    int before = failures;
    close_with_server("pause", "resume", "paused", "server paused");
    if (failures != before) return;
    close_with_server("crash", "start", "killed", "server killed");
    /* the server answers the rest of the suite again */
    zk_handle *zh = open_handle();
    CHECK(zh != NULL);
    CHECK_RC(zk_delete(zh, path_of("paused"), -1), ZK_OK);
    CHECK_RC(zk_delete(zh, path_of("killed"), -1), ZK_OK);
    CHECK_RC(zk_delete(zh, root, -1), ZK_OK);
    zk_close(zh);
}

/* Async operations reach the server in the order they were called and complete in that
   order, as in Apache's C client: a create, sets on what it created, a delete. */
#define ORDERED_OPS 200
static int order_seen[ORDERED_OPS];
static volatile int order_n;
static int order_rc[ORDERED_OPS];

static void in_order(int rc, const zk_stat *st, void *ctx) {
    (void)st;
    int n = load(&order_n);
    if (n < ORDERED_OPS) {
        order_seen[n] = (int)(intptr_t)ctx;
        order_rc[n] = rc;
    }
    bump(&order_n);
}

static void in_order_create(int rc, const char *path, const zk_stat *st, void *ctx) {
    (void)path;
    in_order(rc, st, ctx);
}

static void in_order_void(int rc, void *ctx) { in_order(rc, NULL, ctx); }

static void test_async_order(zk_handle *zh) {
    order_n = 0;
    const char *node = path_of("ordered");
    CHECK_RC(zk_acreate(zh, node, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, in_order_create, (void *)0), ZK_OK);
    for (int i = 1; i < ORDERED_OPS - 1; i++) {
        if (i % 3 == 0)
            CHECK_RC(zk_aexists(zh, node, NULL, NULL, in_order, (void *)(intptr_t)i), ZK_OK);
        else
            CHECK_RC(zk_aset(zh, node, (const uint8_t *)"v", 1, -1, in_order, (void *)(intptr_t)i), ZK_OK);
    }
    CHECK_RC(zk_adelete(zh, node, -1, in_order_void, (void *)(intptr_t)(ORDERED_OPS - 1)), ZK_OK);
    CHECK(wait_for(&order_n, ORDERED_OPS));
    for (int i = 0; i < ORDERED_OPS; i++) {
        CHECK(order_seen[i] == i);
        CHECK(order_rc[i] == ZK_OK);
    }
}

/* ---------------------------------------------------------------- getters, options, version, logs */

static void test_getters(zk_handle *zh) {
    int state = -1;
    int64_t sid = 0, timeout = 0;
    CHECK_RC(zk_state(zh, &state), ZK_OK);
    CHECK(state == ZK_STATE_CONNECTED);
    CHECK_RC(zk_session_id(zh, &sid), ZK_OK);
    CHECK(sid != 0);
    CHECK_RC(zk_session_timeout_ms(zh, &timeout), ZK_OK);
    CHECK(timeout >= 1000 && timeout <= 60000);
    CHECK_RC(zk_state(zh, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_session_id(zh, NULL), ZK_BADARGUMENTS);
    CHECK_RC(zk_session_timeout_ms(zh, NULL), ZK_BADARGUMENTS);
    /* before the first connect */
    zk_handle *never = NULL;
    CHECK_RC(zk_open(&never, "127.0.0.1:1", 2000, 0, NULL, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_state(never, &state), ZK_OK);
    CHECK_RC(zk_session_id(never, &sid), ZK_OK);
    CHECK_RC(zk_session_timeout_ms(never, &timeout), ZK_OK);
    CHECK(state == ZK_STATE_CONNECTING && sid == 0 && timeout == 0);
    CHECK_RC(zk_close(never), ZK_OK);
}

static void test_options_size(void) {
    zk_handle *zh = NULL;
    /* an older, smaller struct: only the fields within `size` are read (here the
       timeout and read-only flag; the bytes after are garbage and must not be used) */
    union {
        zk_options o;
        unsigned char bytes[sizeof(zk_options) + 64];
    } u;
    memset(&u, 0xff, sizeof u);
    u.o.size = offsetof(zk_options, session_id);
    u.o.session_timeout_ms = 10000;
    u.o.can_be_read_only = 0;
    CHECK_RC(zk_open_with(&zh, hosts, &u.o, NULL, NULL), ZK_OK);
    CHECK_RC(zk_wait_connected(zh, 10000), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);
    /* read as the full struct, the same garbage is refused */
    u.o.size = sizeof(zk_options);
    CHECK_RC(zk_open_with(&zh, hosts, &u.o, NULL, NULL), ZK_BADARGUMENTS);
    CHECK(zh == NULL);
    /* too small to hold the timeout, or no size at all */
    u.o.size = 0;
    CHECK_RC(zk_open_with(&zh, hosts, &u.o, NULL, NULL), ZK_BADARGUMENTS);
    u.o.size = offsetof(zk_options, session_timeout_ms);
    CHECK_RC(zk_open_with(&zh, hosts, &u.o, NULL, NULL), ZK_BADARGUMENTS);
    /* a newer, larger struct: accepted while the fields this library lacks are zero */
    memset(&u, 0, sizeof u);
    u.o.size = sizeof u.bytes;
    u.o.session_timeout_ms = 10000;
    CHECK_RC(zk_open_with(&zh, hosts, &u.o, NULL, NULL), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);
    u.bytes[sizeof(zk_options) + 3] = 1;
    CHECK_RC(zk_open_with(&zh, hosts, &u.o, NULL, NULL), ZK_BADARGUMENTS);
    CHECK(zh == NULL);
}

static void test_version(void) {
    CHECK(zk_version() != NULL);
    CHECK(strcmp(zk_version(), ZK_TEST_VERSION) == 0);
    CHECK(zk_version() == zk_version());
}

typedef struct {
    pthread_mutex_t mu;
    int lines, debug_lines, connect_failed;
    char thread[32];
    char target[128];
} log_sink;

static void on_log(int level, const char *target, const char *message, void *ctx) {
    log_sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->lines++;
    if (level == ZK_LOG_DEBUG) s->debug_lines++;
    if (strstr(message, "connect failed") && strstr(message, "127.0.0.1:1")) {
        s->connect_failed++;
        snprintf(s->target, sizeof s->target, "%s", target);
        pthread_getname_np(pthread_self(), s->thread, sizeof s->thread);
    }
    pthread_mutex_unlock(&s->mu);
}

static int log_count(log_sink *s, int *field) {
    pthread_mutex_lock(&s->mu);
    int n = *field;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void test_log_fn(void) {
    static log_sink sink = {.mu = PTHREAD_MUTEX_INITIALIZER};
    CHECK_RC(zk_set_log_level(0), ZK_BADARGUMENTS);
    CHECK_RC(zk_set_log_level(ZK_LOG_DEBUG), ZK_OK);
    CHECK_RC(zk_set_log_fn(on_log, &sink), ZK_OK);
    zk_handle *zh = NULL;
    /* nothing listens on port 1: each failed attempt is a debug line */
    CHECK_RC(zk_open(&zh, "127.0.0.1:1", 2000, 0, NULL, 0, NULL, NULL), ZK_OK);
    int64_t deadline = now_ms() + 20000;
    while (log_count(&sink, &sink.connect_failed) == 0 && now_ms() < deadline) usleep(2000);
    CHECK_RC(zk_close(zh), ZK_OK);
    CHECK_RC(zk_set_log_fn(NULL, NULL), ZK_OK);
    /* after zk_set_log_fn returns the old function is never called again */
    int lines = log_count(&sink, &sink.lines);
    CHECK_RC(zk_open(&zh, "127.0.0.1:1", 2000, 0, NULL, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);
    CHECK(log_count(&sink, &sink.lines) == lines);
    CHECK(sink.connect_failed > 0 && sink.debug_lines > 0);
    CHECK(strncmp(sink.target, "zk_core::client", 15) == 0);
    CHECK(strcmp(sink.thread, "zk-log") == 0);
    CHECK_RC(zk_set_log_level(ZK_LOG_INFO), ZK_OK);
}

/* ---------------------------------------------------------------- TLS */

/* A log sink that remembers whether a line mentioned `needle`. */
typedef struct {
    pthread_mutex_t mu;
    const char *needle;
    int seen;
} needle_sink;

static void on_needle_log(int level, const char *target, const char *message, void *ctx) {
    (void)level;
    (void)target;
    needle_sink *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (strstr(message, s->needle)) s->seen++;
    pthread_mutex_unlock(&s->mu);
}

static char *tls_file(const char *name) {
    static __thread char bufs[4][512];
    static __thread int next;
    char *buf = bufs[next++ % 4];
    snprintf(buf, 512, "%s/%s", getenv("ZK_TEST_TLS_DIR"), name);
    return buf;
}

/* Opens a TLS handle to `where` and waits up to `wait_ms` for the session; NULL if none. */
static zk_handle *open_tls(const char *where, const char *ca, const char *cert, const char *key,
                           int skip_hostname_check, int64_t wait_ms) {
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 10000;
    o.connect_timeout_ms = 2000;
    o.tls_ca_file = ca;
    o.tls_cert_file = cert;
    o.tls_key_file = key;
    o.tls_skip_hostname_check = skip_hostname_check;
    zk_handle *zh = NULL;
    if (zk_open_with(&zh, where, &o, NULL, NULL) != ZK_OK) return NULL;
    if (zk_wait_connected(zh, wait_ms) != ZK_OK) {
        zk_close(zh);
        return NULL;
    }
    return zh;
}

/* 1 if the session's whoami has an x509 identity containing `cn`, 0 if none, -1 on error. */
static int has_x509(zk_handle *zh, const char *cn) {
    zk_client_infos *me = NULL;
    if (zk_whoami(zh, &me) != ZK_OK) return -1;
    int found = 0;
    for (size_t i = 0; i < me->len; i++)
        if (strcmp(me->items[i].scheme, "x509") == 0 && strstr(me->items[i].user, cn)) found = 1;
    zk_free_client_infos(me);
    return found;
}

/* zk-server's secureClientPort (run-c-tests.sh sets ZK_TEST_TLS_DIR and
   ZK_TEST_SECURE_PORT): x509 identity, refusals, bad files. */
static void test_tls(void) {
    const char *port = getenv("ZK_TEST_SECURE_PORT");
    CHECK(getenv("ZK_TEST_TLS_DIR") != NULL && port != NULL);
    char secure[64], by_name[64];
    snprintf(secure, sizeof secure, "127.0.0.1:%s", port);
    snprintf(by_name, sizeof by_name, "localhost:%s", port);

    /* with a client certificate (retried: the secure port may open after the plain one) */
    zk_handle *zh = NULL;
    int64_t deadline = now_ms() + 30000;
    while (!zh && now_ms() < deadline)
        zh = open_tls(secure, tls_file("ca.crt"), tls_file("client.crt"), tls_file("client.key"), 0, 5000);
    CHECK(zh != NULL);
    char path[128];
    snprintf(path, sizeof path, "/ctest-%d-tls", (int)getpid());
    CHECK_RC(zk_create(zh, path, (const uint8_t *)"sealed", 6, NULL, 0, ZK_EPHEMERAL, 0, NULL, NULL), ZK_OK);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_RC(zk_get(zh, path, NULL, NULL, &data, &len, NULL), ZK_OK);
    int same = len == 6 && memcmp(data, "sealed", 6) == 0;
    zk_free_bytes(data);
    CHECK(same);
    CHECK(has_x509(zh, "CN=client") == 1);
    CHECK_RC(zk_close(zh), ZK_OK);

    /* without one (the server only wants it): connected, not known as x509 */
    zh = open_tls(secure, tls_file("ca.crt"), NULL, NULL, 0, 10000);
    CHECK(zh != NULL);
    CHECK(has_x509(zh, "") == 0);
    CHECK_RC(zk_close(zh), ZK_OK);

    /* an untrusted authority, and a certificate for 127.0.0.1 reached as localhost: the
       handle opens but never connects (zk_wait_connected gives up; nothing hangs) */
    CHECK(open_tls(secure, tls_file("other-ca.crt"), NULL, NULL, 0, 3000) == NULL);
    CHECK(open_tls(by_name, tls_file("ca.crt"), NULL, NULL, 0, 3000) == NULL);
    zh = open_tls(by_name, tls_file("ca.crt"), NULL, NULL, 1, 10000);
    CHECK(zh != NULL);
    CHECK_RC(zk_exists(zh, "/", NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);

    /* bad files: ZK_BADARGUMENTS at once, and a log line naming the file */
    static needle_sink sink = {.mu = PTHREAD_MUTEX_INITIALIZER, .needle = "missing-ca.pem"};
    CHECK_RC(zk_set_log_fn(on_needle_log, &sink), ZK_OK);
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 10000;
    o.tls_ca_file = tls_file("missing-ca.pem");
    zh = NULL;
    int rc = zk_open_with(&zh, secure, &o, NULL, NULL);
    deadline = now_ms() + 10000;
    pthread_mutex_lock(&sink.mu);
    int seen = sink.seen;
    pthread_mutex_unlock(&sink.mu);
    while (!seen && now_ms() < deadline) {
        usleep(2000);
        pthread_mutex_lock(&sink.mu);
        seen = sink.seen;
        pthread_mutex_unlock(&sink.mu);
    }
    CHECK_RC(zk_set_log_fn(NULL, NULL), ZK_OK);
    CHECK_RC(rc, ZK_BADARGUMENTS);
    CHECK(zh == NULL);
    CHECK(seen > 0);
    /* a certificate without its key, or without a CA */
    o.tls_ca_file = tls_file("ca.crt");
    o.tls_cert_file = tls_file("client.crt");
    CHECK_RC(zk_open_with(&zh, secure, &o, NULL, NULL), ZK_BADARGUMENTS);
    o.tls_ca_file = NULL;
    o.tls_key_file = tls_file("client.key");
    CHECK_RC(zk_open_with(&zh, secure, &o, NULL, NULL), ZK_BADARGUMENTS);
    CHECK(zh == NULL);
}

/* ---------------------------------------------------------------- SASL DIGEST-MD5 */

/* Opens a handle as `user` (SASL DIGEST-MD5, or the JAAS file `jaas` when user is NULL)
 * and waits for it; the code of zk_wait_connected in *rc (the handle is returned either
 * way, NULL only when zk_open_with failed). */
static zk_handle *open_sasl(const char *at, const char *user, const char *password,
                            const char *jaas, int wait_ms, int *rc) {
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 10000;
    o.connect_timeout_ms = 2000;
    o.sasl_username = user;
    o.sasl_password = password;
    o.sasl_jaas_file = jaas;
    zk_handle *zh = NULL;
    *rc = zk_open_with(&zh, at, &o, NULL, NULL);
    if (*rc != ZK_OK) return NULL;
    *rc = zk_wait_connected(zh, wait_ms);
    return zh;
}

/* bob's handle on `at`, retried while the server starts (a JVM takes seconds). */
static zk_handle *bob_when_up(const char *at) {
    int64_t deadline = now_ms() + 60000;
    while (now_ms() < deadline) {
        int rc;
        zk_handle *zh = open_sasl(at, "bob", "bobsecret", NULL, 5000, &rc);
        if (zh && rc == ZK_OK && zk_exists(zh, "/", NULL, NULL, NULL) == ZK_OK) return zh;
        if (zh) zk_close(zh);
        usleep(200000);
    }
    return NULL;
}

/* One server's SASL cases: a sasl:bob node is bob's alone (also logged in through a JAAS
 * Client section); wrong credentials end the handle in AUTH_FAILED; under enforcement an
 * anonymous handle is refused. */
static void sasl_case(const char *at, int enforced) {
    fprintf(stderr, "  SASL on %s%s\n", at, enforced ? " (enforce.auth.schemes=sasl)" : "");
    zk_handle *bob = bob_when_up(at);
    CHECK(bob != NULL);
    int state = -1;
    CHECK_RC(zk_state(bob, &state), ZK_OK);
    CHECK(state == ZK_STATE_SASL_AUTHENTICATED);
    char path[128];
    snprintf(path, sizeof path, "/ctest-%d-sasl-%d", (int)getpid(), enforced);
    zk_acl bob_only = {ZK_PERM_ALL, "sasl", "bob"};
    CHECK_RC(zk_create(bob, path, (const uint8_t *)"secret", 6, &bob_only, 1, ZK_EPHEMERAL, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_get(bob, path, NULL, NULL, NULL, NULL, NULL), ZK_OK);
    zk_client_infos *me = NULL;
    CHECK_RC(zk_whoami(bob, &me), ZK_OK);
    int is_bob = 0;
    for (size_t i = 0; i < me->len; i++)
        if (strcmp(me->items[i].scheme, "sasl") == 0 && strcmp(me->items[i].user, "bob") == 0) is_bob = 1;
    zk_free_client_infos(me);
    CHECK(is_bob);

    int rc;
    zk_handle *alice = open_sasl(at, "alice", "alicesecret", NULL, 20000, &rc);
    CHECK(alice != NULL);
    CHECK_RC(rc, ZK_OK);
    CHECK_RC(zk_get(alice, path, NULL, NULL, NULL, NULL, NULL), ZK_NOAUTH);
    CHECK_RC(zk_close(alice), ZK_OK);

    /* the JAAS Client section Apache's Java client reads */
    char jaas[] = "/tmp/zk-ctest-jaas-XXXXXX";
    int fd = mkstemp(jaas);
    CHECK(fd >= 0);
    const char *client =
        "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        "  username=\"bob\" password=\"bobsecret\";\n};\n";
    ssize_t wrote = write(fd, client, strlen(client));
    close(fd);
    zk_handle *from_jaas = open_sasl(at, NULL, NULL, jaas, 20000, &rc);
    unlink(jaas);
    CHECK(wrote == (ssize_t)strlen(client) && from_jaas != NULL);
    CHECK_RC(rc, ZK_OK);
    CHECK_RC(zk_get(from_jaas, path, NULL, NULL, NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_close(from_jaas), ZK_OK);

    /* wrong credentials: AUTH_FAILED, for the wait and every call after */
    const char *wrong[][2] = {{"bob", "wrong"}, {"nobody", "x"}};
    for (int i = 0; i < 2; i++) {
        zk_handle *refused = open_sasl(at, wrong[i][0], wrong[i][1], NULL, 20000, &rc);
        CHECK(refused != NULL);
        CHECK_RC(rc, ZK_AUTHFAILED);
        CHECK_RC(zk_state(refused, &state), ZK_OK);
        CHECK(state == ZK_STATE_AUTH_FAILED);
        CHECK_RC(zk_exists(refused, "/", NULL, NULL, NULL), ZK_AUTHFAILED);
        CHECK_RC(zk_close(refused), ZK_OK);
    }

    zk_handle *anonymous = NULL;
    CHECK_RC(zk_open(&anonymous, at, 10000, 0, NULL, 0, NULL, NULL), ZK_OK);
    CHECK_RC(zk_wait_connected(anonymous, 20000), ZK_OK);
    rc = zk_get(anonymous, path, NULL, NULL, NULL, NULL, NULL);
    if (enforced)
        CHECK(rc == ZK_SESSIONCLOSEDREQUIRESASLAUTH || rc == ZK_CONNECTIONLOSS);
    else
        CHECK_RC(rc, ZK_NOAUTH);
    CHECK_RC(zk_close(anonymous), ZK_OK);
    CHECK_RC(zk_close(bob), ZK_OK);
}

static void test_sasl(void) {
    const char *enforced = getenv("ZK_TEST_SASL_ENFORCED_HOSTS");
    CHECK(getenv("ZK_TEST_JAAS") != NULL && enforced != NULL);
    sasl_case(hosts, 0);
    sasl_case(enforced, 1);
    const char *apache = getenv("ZK_TEST_APACHE_SASL_HOSTS");
    const char *apache_enforced = getenv("ZK_TEST_APACHE_SASL_ENFORCED_HOSTS");
    if (apache && apache_enforced) {
        sasl_case(apache, 0);
        sasl_case(apache_enforced, 1);
    } else {
        fprintf(stderr, "  (Apache ZooKeeper: skipped, ZK_TEST_APACHE_SASL_HOSTS not set)\n");
    }
}

/* Every new connection authenticates again: across a server crash and restart the states
 * go SUSPENDED, CONNECTED, SASL_AUTHENTICATED, and the sasl:bob node is readable again. */
static void test_sasl_reconnect(void) {
    if (!getenv("ZK_TEST_SERVER_CTL") || !getenv("ZK_TEST_JAAS")) {
        fprintf(stderr, "  (skipped: ZK_TEST_SERVER_CTL or ZK_TEST_JAAS not set)\n");
        return;
    }
    n_states = 0;
    zk_options o = ZK_OPTIONS_INIT;
    o.session_timeout_ms = 15000;
    o.sasl_username = "bob";
    o.sasl_password = "bobsecret";
    zk_handle *zh = NULL;
    CHECK_RC(zk_open_with(&zh, hosts, &o, on_state, NULL), ZK_OK);
    CHECK_RC(zk_wait_connected(zh, 20000), ZK_OK);
    int at = wait_state(ZK_STATE_SASL_AUTHENTICATED, 0);
    CHECK(at && saw_state(ZK_STATE_CONNECTED, 0) && saw_state(ZK_STATE_CONNECTED, 0) < at);
    snprintf(root, sizeof root, "/ctest-%d-sasl-restart", (int)getpid());
    zk_acl bob_only = {ZK_PERM_ALL, "sasl", "bob"};
    CHECK_RC(zk_create(zh, root, NULL, 0, &bob_only, 1, ZK_PERSISTENT, 0, NULL, NULL), ZK_OK);
    int crashed = server_ctl("crash");
    int down = wait_state(ZK_STATE_SUSPENDED, at);
    int restarted = server_ctl("start");
    CHECK(crashed == 0 && restarted == 0 && down);
    int connected = wait_state(ZK_STATE_CONNECTED, down);
    int authenticated = wait_state(ZK_STATE_SASL_AUTHENTICATED, down);
    CHECK(connected && authenticated && connected < authenticated);
    CHECK_RC(zk_get(zh, root, NULL, NULL, NULL, NULL, NULL), ZK_OK);
    CHECK_RC(zk_delete(zh, root, -1), ZK_OK);
    CHECK_RC(zk_close(zh), ZK_OK);
}

/* ---------------------------------------------------------------- runner */

typedef struct {
    const char *name;
    void (*with_handle)(zk_handle *);
    void (*alone)(void);
} test_case;

static const test_case tests[] = {
    {"error_strings", NULL, test_error_strings},
    {"version", NULL, test_version},
    {"getters", test_getters, NULL},
    {"options_size", NULL, test_options_size},
    {"log_fn", NULL, test_log_fn},
    {"bad_arguments", NULL, test_bad_arguments},
    {"open_with_options", NULL, test_open_with_options},
    {"create_modes", test_create_modes, NULL},
    {"crud", test_crud, NULL},
    {"children", test_children, NULL},
    {"acl_auth_whoami", test_acl_auth_whoami, NULL},
    {"sync_ephemerals", test_sync_ephemerals, NULL},
    {"multi", test_multi, NULL},
    {"session_resume", test_session_resume, NULL},
    {"async_ops", test_async_ops, NULL},
    {"async_order", test_async_order, NULL},
    {"watches", test_watches, NULL},
    {"persistent_watches", test_persistent_watches, NULL},
    {"callback_thread", test_callback_thread, NULL},
    {"close_from_callbacks", test_close_from_callbacks, NULL},
    {"close_with_pending", NULL, test_close_with_pending},
    {"concurrent_use", test_concurrent_use, NULL},
    {"lock", test_lock, NULL},
    {"leader", test_leader, NULL},
    {"double_close_and_use_after_close", NULL, test_double_close_and_use_after_close},
    {"completion_just_before_close", NULL, test_completion_just_before_close},
    {"close_races_with_ops", NULL, test_close_races_with_ops},
    {"close_while_server_down", NULL, test_close_while_server_down},
    {"states_across_restart", NULL, test_states_across_restart},
    {"tls", NULL, test_tls},
    {"sasl", NULL, test_sasl},
    {"sasl_reconnect", NULL, test_sasl_reconnect},
};

int main(int argc, char **argv) {
    hosts = getenv("ZK_TEST_HOSTS");
    if (!hosts) {
        fprintf(stderr, "set ZK_TEST_HOSTS=host:port\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    int ran = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const test_case *t = &tests[i];
        if (argc > 1 && strcmp(argv[1], t->name) != 0) continue;
        int before = failures;
        int64_t t0 = now_ms();
        snprintf(root, sizeof root, "/ctest-%d-%s", (int)getpid(), t->name);
        if (t->with_handle) {
            zk_handle *zh = open_handle();
            if (!zh) {
                fprintf(stderr, "  cannot connect to %s\n", hosts);
                failures++;
            } else if (zk_create(zh, root, NULL, 0, NULL, 0, ZK_PERSISTENT, 0, NULL, NULL) != ZK_OK) {
                fprintf(stderr, "  cannot create %s\n", root);
                failures++;
                zk_close(zh);
            } else {
                t->with_handle(zh);
                zk_close(zh);
            }
        } else {
            t->alone();
        }
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
