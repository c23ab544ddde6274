/* ha_controller: a Hadoop-style failover controller (HDFS's ZKFC) in C on libzk's
 * zk_elector. It health-checks a local service, keeps it in the election while it is
 * healthy, and fences the previous active before its service takes over. Same flags,
 * output lines and exit codes as every language's controller: examples/ha/README.md. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zk.h"

extern char **environ;
/* Hadoop's exit codes (ZKFailoverController); any other failure is 1. */
enum { FAILED = 1, FORMAT_DENIED = 2, NO_PARENT_ZNODE = 3, NO_FENCER = 4, NO_ZK = 6 };
enum { INITIALIZING, HEALTHY, UNHEALTHY, NOT_RESPONDING }; /* Hadoop's HealthMonitor states */
static const char *HEALTH[] = {"Initializing", "Healthy", "Unhealthy", "NotResponding"};

static struct {
    const char *zk, *root, *ns, *id, *host, *check_cmd, *check_port, *on_active, *on_standby;
    const char *fence[16];
    int fences, format, force, non_interactive;
    long port, zkfc_port, session_ms, interval_ms, timeout_ms;
} o = {.root = "/hadoop-ha", .session_ms = 10000, .interval_ms = 1000, .timeout_ms = 45000};
static volatile sig_atomic_t stop_signal;
static char *fatal; /* set once by the fatal_error callback */

static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    printf("[%s] ", o.id ? o.id : "zkfc");
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
    funlockfile(stdout);
    va_end(ap);
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv with `env` added to the environment: its exit status, -1 if it did not start,
 * -2 if it outran timeout_ms (< 0: none) and was killed. posix_spawn, not fork: libzk's
 * threads are running. */
static int run(char *const argv[], char *const env[], long timeout_ms) {
    size_t n = 0, k = 0;
    while (environ[n]) n++;
    char **envp = calloc(n + 8, sizeof *envp);
    pid_t pid;
    int status = -1;
    if (!envp) return -1;
    for (size_t i = 0; i < n; i++) envp[k++] = environ[i];
    for (size_t i = 0; env && env[i] && i < 7; i++) envp[k++] = env[i];
    int spawned = posix_spawnp(&pid, argv[0], NULL, NULL, argv, envp) == 0;
    free(envp);
    if (!spawned) return -1;
    for (int64_t deadline = now_ms() + timeout_ms; waitpid(pid, &status, WNOHANG) == 0;) {
        if (timeout_ms >= 0 && now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -2;
        }
        usleep(5000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int sh(const char *cmd) { /* 1 when cmd is unset or exits 0 */
    char *argv[] = {"sh", "-c", (char *)cmd, NULL};
    if (!cmd) return 1;
    if (run(argv, NULL, -1) == 0) return 1;
    say("command failed: %s", cmd);
    return 0;
}

/* One health check: a command (exit 0 healthy, else unhealthy) or a TCP connect; no
 * answer within --check-timeout-ms is NOT_RESPONDING. */
static int check(void) {
    if (o.check_cmd) {
        char *argv[] = {"sh", "-c", (char *)o.check_cmd, NULL};
        int rc = run(argv, NULL, o.timeout_ms);
        return rc == 0 ? HEALTHY : rc > 0 ? UNHEALTHY : NOT_RESPONDING;
    }
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(o.check_port, ':'), *port = colon ? colon + 1 : o.check_port;
    if (colon) snprintf(host, sizeof host, "%.*s", (int)(colon - o.check_port), o.check_port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int fd = -1, err = 1;
    socklen_t len = sizeof err;
    if (getaddrinfo(host, port, &hints, &ai) == 0 &&
        (fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0 &&
        connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, (int)o.timeout_ms) == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    } else if (fd >= 0) {
        err = 0; /* connected at once */
    }
    if (fd >= 0) close(fd);
    if (ai) freeaddrinfo(ai);
    return err == 0 ? HEALTHY : NOT_RESPONDING;
}

/* ---- elector callbacks (on the elector's dispatch thread) ---- */
static int become_active(void *ctx) {
    (void)ctx;
    int ok = sh(o.on_active);
    say(ok ? "active" : "active failed");
    return ok;
}
static int become_standby(void *ctx) {
    (void)ctx;
    say("standby");
    return sh(o.on_standby);
}
static void enter_neutral(void *ctx) { (void)ctx, say("neutral"); }
static void fatal_error(const char *message, void *ctx) {
    char *copy = strdup(message), *none = NULL;
    if (!__atomic_compare_exchange_n(&fatal, &none, copy, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) free(copy);
    (void)ctx;
}
/* Hadoop's NodeFencer with shell(...) methods: tried in order until one exits 0 (run by
 * bash -e -c), with the old active in ShellCommandFencer's target_* variables. */
static int fence_old_active(const uint8_t *data, size_t len, void *ctx) {
    zk_active_node_info *old = NULL;
    int fenced = 0;
    (void)ctx;
    if (zk_active_node_info_decode(data, len, &old) != ZK_OK) {
        say("fence ? failed: the breadcrumb is not an ActiveNodeInfo");
        return 0;
    }
    char env[5][512];
    snprintf(env[0], 512, "target_host=%s", old->hostname);
    snprintf(env[1], 512, "target_port=%d", old->port);
    snprintf(env[2], 512, "target_address=%s:%d", old->hostname, old->port);
    snprintf(env[3], 512, "target_nameserviceid=%s", old->nameservice_id);
    snprintf(env[4], 512, "target_namenodeid=%s", old->namenode_id);
    char *envp[] = {env[0], env[1], env[2], env[3], env[4], NULL};
    for (int i = 0; i < o.fences && !fenced; i++) {
        char cmd[4096];
        const char *m = o.fence[i];
        size_t n = strlen(m);
        if (strncmp(m, "shell(", 6) == 0 && n > 6 && m[n - 1] == ')') snprintf(cmd, sizeof cmd, "%.*s", (int)(n - 7), m + 6);
        else snprintf(cmd, sizeof cmd, "%s", m);
        char *argv[] = {"bash", "-e", "-c", cmd, NULL};
        fenced = run(argv, envp, -1) == 0;
    }
    say("fence %s %s", old->namenode_id, fenced ? "ok" : "failed");
    zk_free_active_node_info(old);
    return fenced;
}

static void on_signal(int sig) { stop_signal = sig; }

static int finish(int code, const char *fmt, ...) {
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    say("%s %s", code ? "fatal" : "exit", message);
    return code;
}

static int parse(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(f, "--format")) o.format = 1;
        else if (!strcmp(f, "--force")) o.force = 1;
        else if (!strcmp(f, "--non-interactive")) o.non_interactive = 1;
        else if (!v) return 0;
        else {
            const char **s = !strcmp(f, "--zk") ? &o.zk : !strcmp(f, "--root") ? &o.root
                : !strcmp(f, "--nameservice") ? &o.ns : !strcmp(f, "--id") ? &o.id
                : !strcmp(f, "--host") ? &o.host : !strcmp(f, "--check-cmd") ? &o.check_cmd
                : !strcmp(f, "--check-port") ? &o.check_port : !strcmp(f, "--on-active") ? &o.on_active
                : !strcmp(f, "--on-standby") ? &o.on_standby : NULL;
            long *l = !strcmp(f, "--port") ? &o.port : !strcmp(f, "--zkfc-port") ? &o.zkfc_port
                : !strcmp(f, "--session-timeout-ms") ? &o.session_ms
                : !strcmp(f, "--check-interval-ms") ? &o.interval_ms
                : !strcmp(f, "--check-timeout-ms") ? &o.timeout_ms : NULL;
            char *end = NULL;
            if (s) *s = v;
            else if (l) *l = strtol(v, &end, 10);
            else if (!strcmp(f, "--fence") && o.fences < 16) o.fence[o.fences++] = v;
            else return 0;
            if (l && (*end || *l < 0)) return 0;
            i++;
        }
    }
    int checks = (o.check_cmd != NULL) + (o.check_port != NULL);
    return o.zk && o.ns && (o.format || (o.id && checks == 1));
}

int main(int argc, char **argv) {
    if (!parse(argc, argv)) return finish(FAILED, "bad arguments (see examples/ha/README.md)");
    char parent[1024], hostname[256] = "localhost";
    snprintf(parent, sizeof parent, "%s/%s", strcmp(o.root, "/") ? o.root : "", o.ns);
    zk_options zo = ZK_OPTIONS_INIT;
    zo.session_timeout_ms = (int)o.session_ms;
    zk_elector_config c = ZK_ELECTOR_CONFIG_INIT;
    c.parent_znode = parent;
    c.become_active = become_active, c.become_standby = become_standby;
    c.enter_neutral = enter_neutral, c.fence_old_active = fence_old_active, c.fatal_error = fatal_error;
    zk_elector *e = NULL;
    int exists = 0, formatted = 0, rc = zk_elector_open(&e, o.zk, &zo, &c);
    if (rc != ZK_OK) return finish(FAILED, "bad configuration: %s", zk_error_string(rc));
    if ((rc = zk_elector_parent_exists(e, &exists)) != ZK_OK)
        return zk_elector_close(e), finish(NO_ZK, "cannot reach ZooKeeper: %s", zk_error_string(rc));
    if (o.format) { /* hdfs zkfc -formatZK [-force] [-nonInteractive] */
        char answer[16] = "";
        if (exists && !o.force && !o.non_interactive) {
            fprintf(stderr, "%s exists; stop its controllers first. Proceed formatting? (Y or N) ", parent);
            if (!fgets(answer, sizeof answer, stdin)) answer[0] = 0;
        }
        int go = !exists || o.force || answer[0] == 'Y' || answer[0] == 'y';
        rc = go ? zk_elector_format(e, 1, &formatted) : ZK_OK;
        zk_elector_close(e);
        if (!go) return finish(FORMAT_DENIED, "%s exists: not formatted (--force)", parent);
        return rc == ZK_OK ? finish(0, "formatted %s", parent) : finish(FAILED, "cannot format: %s", zk_error_string(rc));
    }
    if (!exists) return zk_elector_close(e), finish(NO_PARENT_ZNODE, "%s does not exist: run --format", parent);
    if (!o.fences) return zk_elector_close(e), finish(NO_FENCER, "no fencing method (--fence)");
    gethostname(hostname, sizeof hostname - 1);
    const char *check_port = o.check_port ? strrchr(o.check_port, ':') : NULL;
    zk_active_node_info me = {o.ns, o.id, o.host ? o.host : hostname, (int32_t)o.port, (int32_t)o.zkfc_port};
    if (!me.port && o.check_port) me.port = atoi(check_port ? check_port + 1 : o.check_port);
    uint8_t *data = NULL;
    size_t len = 0;
    zk_active_node_info_encode(&me, &data, &len);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int health = INITIALIZING;
    say("health %s", HEALTH[health]);
    for (int64_t next = now_ms(); !stop_signal && !__atomic_load_n(&fatal, __ATOMIC_SEQ_CST);) {
        if (now_ms() < next) {
            usleep(5000);
            continue;
        }
        next = now_ms() + o.interval_ms;
        int now = check();
        if (now == health) continue;
        say("health %s", HEALTH[health = now]);
        if (health == HEALTHY) zk_elector_join(e, data, len); /* ZKFC's recheckElectability */
        else zk_elector_quit(e, 1);
    }
    zk_free_bytes(data);
    zk_elector_quit(e, 1); /* as ZKFC on its way out: the breadcrumb stays */
    zk_elector_close(e);
    if (fatal) return rc = finish(FAILED, "%s", fatal), free(fatal), rc;
    return finish(0, "on %s", stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
}
