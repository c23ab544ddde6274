/*
 * zk.h - libzk, the C API of the zk ZooKeeper client.
 *
 * Link:  pkg-config --cflags --libs zk            (shared: -lzk)
 *        pkg-config --static --cflags --libs zk   (static: libzk.a -lpthread -ldl -lm)
 *
 * ERRORS. Every call returning zk_rc returns ZK_OK (0) or a negative ZooKeeper error
 * code with Apache's numbers (ZK_NONODE = -101, ...); zk_error_string() names it.
 * NULL or out-of-range arguments give ZK_BADARGUMENTS; a fault inside the library gives
 * ZK_SYSTEMERROR. No call aborts the process or lets a Rust panic cross into C, and
 * nothing is printed: logs go only to a function set with zk_set_log_fn().
 * Handles (zk_handle, zk_lock, zk_leader, zk_elector) are opaque ids that the library
 * looks up before any use: one that was freed (double close, use after close), or never
 * issued, gives ZK_BADARGUMENTS and no memory is touched. Other wild, non-NULL pointers
 * (strings, buffers, out-pointers) cannot be detected; pass NULL or valid memory.
 * Getters return zk_rc too and write their value through an out-pointer (on ZK_OK only).
 *
 * SAFETY. What the library cannot check is listed in each function's "# Safety"
 * section; breaking it is undefined behaviour. The pointers named there need be valid
 * only during the call, except callbacks and their ctx: a callback must stay callable
 * with its ctx, on the thread that runs it (see THREADS), until the last call its
 * section names (the library never dereferences a ctx). NULL is always checked
 * (ZK_BADARGUMENTS where it is not allowed), and so are lengths and sizes too large to
 * be real. "Readable" and "writable" mean valid, aligned memory of the stated size or
 * type. Handles are not listed: any value is safe (see above).
 *
 * OWNERSHIP (one rule for every call). Fixed-size results (zk_stat, integers) are
 * written into storage the caller passes (any such pointer may be NULL: "not wanted").
 * Every variable-size result (a string, bytes, a list) is allocated by the library and
 * handed to the caller through an out-pointer; the caller frees it with the matching
 * zk_free_*() function (zk_free_string, zk_free_bytes, zk_free_strings,
 * zk_free_acl_list, zk_free_client_infos, zk_free_op_results), each of which accepts
 * NULL. On error, out-pointers are set to NULL and nothing needs freeing.
 * In asynchronous completions the same values are only lent: they are valid until the
 * completion returns and are freed by the library; copy what you keep.
 * Inputs are only read during the call; the library keeps its own copies.
 * Every handle type (zk_handle, zk_lock, zk_leader, zk_elector) is freed by exactly one
 * call (zk_close, zk_lock_free, zk_leader_close, zk_elector_close) that accepts NULL; a
 * second call is ZK_BADARGUMENTS.
 *
 * THREADS. A zk_handle may be used from any number of threads at once. The network IO
 * runs on the library's own runtime threads and never runs user code. Every callback
 * of a handle - connection states (zk_state_fn), watches (zk_watcher_fn), async
 * completions (zk_*_completion), leadership changes (zk_leader_fn) - runs on that
 * handle's one dispatch thread, in order, one at a time. A callback may call any
 * function of this API, including zk_close() on its own handle (which closes the
 * session but does not wait for the dispatch thread: the handle is freed after the
 * callback returns) and synchronous operations (which delay only this handle's later
 * callbacks while they wait). The log function (zk_set_log_fn) runs on the library's
 * log thread. A zk_elector owns its sessions and has its own dispatch thread, where its
 * callbacks run the same way (see zk_elector_config for the calls allowed in them).
 *
 * CLOSE. zk_close() delivers everything it owes before it returns (or, called from a
 * callback, right after that callback returns), however long the server takes: every
 * accepted async operation's completion (its result, or ZK_CLOSING), one last
 * ZK_SESSION_EVENT with ZK_STATE_CLOSED for every watch still set, ZK_STATE_CLOSED for
 * the state callback, and a loss of leadership for a zk_leader that led. After that no
 * callback of the handle runs, so their contexts may be freed. A call on the handle
 * after zk_close() has started returns ZK_BADARGUMENTS (ZK_CLOSING if it raced with it).
 *
 * ASYNC CALLS (zk_a*, zk_async) return ZK_OK when the operation was accepted: its
 * completion (may be NULL) is then called exactly once, with ZK_CLOSING at worst. Any
 * other return value means the completion will never be called.
 *
 * WATCHES end with exactly one last call: a one-shot watch's event, a removal event
 * (zk_remove_watches), a session event whose state is terminal (ZK_STATE_EXPIRED,
 * ZK_STATE_AUTH_FAILED; a persistent watch also sees the non-terminal session events),
 * or ZK_STATE_CLOSED at close.
 *
 * VERSIONS. zk_version() names the library. Structs that may grow (zk_options) start
 * with their size: initialise them with their *_INIT macro.
 *
 * DISCONNECTS. Operations issued while the client is connecting or reconnecting wait for
 * the session to be re-established and then run; they fail with ZK_SESSIONEXPIRED if it
 * expires first. A write that was in flight when the connection dropped fails with
 * ZK_CONNECTIONLOSS (it may or may not have been applied).
 */


#ifndef ZK_H
#define ZK_H

/* Generated by cbindgen from ffi/src (build.rs). Do not edit: change the Rust source. */

#include <stddef.h>
#include <stdint.h>

/* Initialises a zk_options: `zk_options o = ZK_OPTIONS_INIT;` sets `size` to the
 * struct as this header defines it and every other field to 0 (its default). */
#ifdef __cplusplus
#define ZK_OPTIONS_INIT { sizeof(zk_options), 0, 0, 0, NULL, 0, 0, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL }
#else
#define ZK_OPTIONS_INIT { .size = sizeof(zk_options) }
#endif

/* Initialises a zk_elector_config the same way: `zk_elector_config c = ZK_ELECTOR_CONFIG_INIT;`. */
#ifdef __cplusplus
#define ZK_ELECTOR_CONFIG_INIT { sizeof(zk_elector_config), NULL, NULL, 0, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL }
#else
#define ZK_ELECTOR_CONFIG_INIT { .size = sizeof(zk_elector_config) }
#endif


// Elector states (`zk_elector_state`), Hadoop's `ActiveStandbyElector.State`.
#define ZK_ELECTOR_INIT 0

#define ZK_ELECTOR_ACTIVE 1

#define ZK_ELECTOR_STANDBY 2

#define ZK_ELECTOR_NEUTRAL 3

// `zk_set_log_level` levels (the Apache C client's numbers, plus TRACE).
#define ZK_LOG_ERROR 1

#define ZK_LOG_WARN 2

#define ZK_LOG_INFO 3

#define ZK_LOG_DEBUG 4

#define ZK_LOG_TRACE 5

// Create modes (`zk_create` `mode`), ZooKeeper's numbers.
#define ZK_PERSISTENT 0

#define ZK_EPHEMERAL 1

#define ZK_PERSISTENT_SEQUENTIAL 2

#define ZK_EPHEMERAL_SEQUENTIAL 3

#define ZK_CONTAINER 4

// Needs `ttl_ms` > 0 (and a server with `extendedTypesEnabled`).
#define ZK_PERSISTENT_WITH_TTL 5

#define ZK_PERSISTENT_SEQUENTIAL_WITH_TTL 6

// ACL permission bits.
#define ZK_PERM_READ 1

#define ZK_PERM_WRITE 2

#define ZK_PERM_CREATE 4

#define ZK_PERM_DELETE 8

#define ZK_PERM_ADMIN 16

#define ZK_PERM_ALL 31

// Watch event types (`zk_watcher_fn` `type`).
#define ZK_SESSION_EVENT -1

#define ZK_CREATED_EVENT 1

#define ZK_DELETED_EVENT 2

#define ZK_CHANGED_EVENT 3

#define ZK_CHILD_EVENT 4

#define ZK_DATA_WATCH_REMOVED_EVENT 5

#define ZK_CHILD_WATCH_REMOVED_EVENT 6

#define ZK_PERSISTENT_WATCH_REMOVED_EVENT 7

// Connection states (`zk_state_fn` `state`, `zk_state()`, `zk_watcher_fn` `state`).
#define ZK_STATE_SUSPENDED 0

#define ZK_STATE_CONNECTING 1

#define ZK_STATE_CONNECTED 3

#define ZK_STATE_CONNECTED_READONLY 5

// Connected and authenticated with the SASL credentials of `zk_options` (Apache's
// `KeeperState.SaslAuthenticated`): follows ZK_STATE_CONNECTED on every connection of a
// handle with SASL options.
#define ZK_STATE_SASL_AUTHENTICATED 6

#define ZK_STATE_CLOSED 7

#define ZK_STATE_EXPIRED -112

#define ZK_STATE_AUTH_FAILED -113

// Multi op types (`zk_op` `type`), ZooKeeper's op codes.
#define ZK_OP_CREATE 1

#define ZK_OP_DELETE 2

#define ZK_OP_SET_DATA 5

#define ZK_OP_CHECK 13

// `zk_add_watch` modes.
#define ZK_ADD_WATCH_PERSISTENT 0

#define ZK_ADD_WATCH_PERSISTENT_RECURSIVE 1

// `zk_remove_watches` types (ZooKeeper's `WatcherType` numbers).
#define ZK_WATCHER_CHILDREN 1

#define ZK_WATCHER_DATA 2

#define ZK_WATCHER_ANY 3

#define ZK_WATCHER_PERSISTENT 4

#define ZK_WATCHER_PERSISTENT_RECURSIVE 5

// An elector (opaque): `zk_elector_open` ... `zk_elector_close`.
typedef struct zk_elector zk_elector;

// A connection to a ZooKeeper ensemble (opaque: the library never dereferences the
// pointer, it looks it up). Open with `zk_open`, free with `zk_close`.
typedef struct zk_handle zk_handle;

// A participant in a leader election (opaque): `zk_leader_start` ... `zk_leader_close`.
typedef struct zk_leader zk_leader;

// An exclusive distributed lock (opaque): `zk_lock_new`, `zk_lock_acquire`,
// `zk_lock_release`, `zk_lock_free`. Not re-entrant. One zk_lock is meant for one thread
// at a time (calls on the same zk_lock wait for a running `zk_lock_acquire`); take one
// zk_lock per thread, on one handle or several, to contend from several threads.
typedef struct zk_lock zk_lock;

// A result code: `ZK_OK` (0) or a negative ZooKeeper error code.
typedef int zk_rc;

// Settings for `zk_open_with`. Start from `ZK_OPTIONS_INIT` (which sets `size`; every
// other field 0 means "the default"), then set `session_timeout_ms`:
// `zk_options o = ZK_OPTIONS_INIT; o.session_timeout_ms = 10000;`.
//
// Fields are only ever added at the end. The library reads the fields that lie within
// `size` bytes (a program built against an older zk.h passes a smaller struct; the
// missing fields take their defaults) and refuses (ZK_BADARGUMENTS) a larger struct
// whose fields beyond its own are not all zero (a setting this library does not have).
typedef struct zk_options {
  // `sizeof(zk_options)` as the caller compiled it (ZK_OPTIONS_INIT sets it).
  size_t size;
  // Requested session timeout (the server clamps it); must be > 0.
  int session_timeout_ms;
  // Non-zero: accept a read-only server (ZK_STATE_CONNECTED_READONLY).
  int can_be_read_only;
  // Resume this session (0 for a new one) with `passwd`/`passwd_len`.
  int64_t session_id;
  const uint8_t *passwd;
  size_t passwd_len;
  // Fail an operation with ZK_OPERATIONTIMEOUT after this long (0: wait as long as
  // the session lives).
  int64_t request_timeout_ms;
  // Fixed wait for each connect attempt's answer (0: 2 s at first, doubled after
  // unanswered rounds up to session timeout / number of hosts).
  int64_t connect_timeout_ms;
  // TLS to the servers' `secureClientPort` (NULL: plaintext): the PEM file of the
  // authorities that sign the servers' certificates (Apache's C client: the first part
  // of `zookeeper_init_ssl`'s `cert`).
  const char *tls_ca_file;
  // This client's certificate chain (PEM; NULL: none), with `tls_key_file`; what the
  // servers' `x509` ACLs see.
  const char *tls_cert_file;
  // The private key (PEM, unencrypted) of `tls_cert_file`.
  const char *tls_key_file;
  // Non-zero: do not check that the server's certificate names the host connected to
  // (the authority check stays). 0, the default, checks it.
  int tls_skip_hostname_check;
  // SASL DIGEST-MD5 (NULL: no SASL): authenticate as this user on every connection,
  // before anything else is sent (a server's JAAS `user_<name>`; `sasl:<name>` ACLs).
  // Success: ZK_STATE_SASL_AUTHENTICATED follows ZK_STATE_CONNECTED, and
  // `zk_wait_connected` returns only then. Refused: the handle ends in
  // ZK_STATE_AUTH_FAILED and calls fail with ZK_AUTHFAILED (not retried).
  const char *sasl_username;
  // The user's password (NULL: empty); never logged.
  const char *sasl_password;
  // The SASL service name (NULL: `zookeeper`, Apache's).
  const char *sasl_service;
  // The server name of the digest-uri (NULL: `zk-sasl-md5`, Apache's fixed one).
  const char *sasl_server_name;
  // A JAAS login configuration file (as Apache's Java client reads
  // `-Djava.security.auth.login.config`) whose `Client` section, or `sasl_jaas_section`,
  // holds `org.apache.zookeeper.server.auth.DigestLoginModule required username=".."
  // password="..";`. Used when `sasl_username` is NULL; a file without the default
  // section means no SASL, a missing named section or an unreadable file ZK_BADARGUMENTS.
  const char *sasl_jaas_file;
  // The JAAS section to read (NULL: `Client`; Apache's `zookeeper.sasl.clientconfig`).
  const char *sasl_jaas_section;
} zk_options;

// One ACL entry: `perms` (ZK_PERM_* bits) for `scheme:id` (`world:anyone`,
// `digest:user:hash`, `ip:10.0.0.0/8`, `auth:`).
typedef struct zk_acl {
  int32_t perms;
  const char *scheme;
  const char *id;
} zk_acl;

// What `zk_elector_open` needs besides the connection. Start from
// `ZK_ELECTOR_CONFIG_INIT` (sets `size`; every other field 0 means "the default" or
// "none"), as with `zk_options`: fields are only ever added at the end.
//
// The callbacks run on the elector's dispatch thread with `ctx`. Those returning `int`
// return non-zero for "done" and 0 for "failed":
//
// - `become_active` (required): make the service active. 0 (Hadoop's
//   ServiceFailedException) makes the elector release the lock, pause 1 s and join again.
// - `become_standby`: make the service standby. Its result matters only during
//   `zk_elector_cede`: 0 keeps the breadcrumb, so the next active fences this one.
// - `enter_neutral`: the connection is lost; who is active is unknown. An active
//   should stop acting as one unless it knows its session is alive.
// - `fence_old_active` (required): the breadcrumb names another instance (`data`, lent
//   for the call; an ActiveNodeInfo from HDFS controllers, see
//   `zk_active_node_info_decode`) that may still act as active: fence it, return non-zero
//   only once it can no longer act. 0 stops this takeover.
// - `fatal_error`: the elector gave up (retries exhausted, no session, unexpected
//   errors) and left the election; `message` is lent for the call.
//
// Inside a callback, `zk_elector_join`, `_quit`, `_cede` and `_close` may be called on
// the same elector: they take effect after the callback returns. The calls that wait
// for the elector (`_ensure_parent`, `_parent_exists`, `_format`, `_active_data`)
// return ZK_INVALIDSTATE there, since the elector may be waiting for that callback.
typedef struct zk_elector_config {
  // `sizeof(zk_elector_config)` as the caller compiled it.
  size_t size;
  // The parent znode, `<root>/<nameservice>` (Hadoop: `/hadoop-ha/<nameservice>`).
  const char *parent_znode;
  // The ACL of every node the elector creates; NULL/0: world:anyone:rwcda.
  const struct zk_acl *acl;
  size_t acl_len;
  // Attempts of an operation failing with ZK_CONNECTIONLOSS or ZK_OPERATIONTIMEOUT,
  // and of opening a session; 0: Hadoop's 3.
  int max_retries;
  // Credentials sent on every session the elector opens (`auth_scheme` NULL: none),
  // e.g. "digest" and "user:password".
  const char *auth_scheme;
  const uint8_t *auth;
  size_t auth_len;
  int (*become_active)(void *ctx);
  int (*become_standby)(void *ctx);
  void (*enter_neutral)(void *ctx);
  int (*fence_old_active)(const uint8_t *data, size_t len, void *ctx);
  void (*fatal_error)(const char *message, void *ctx);
  void *ctx;
} zk_elector_config;

// Hadoop's `ActiveNodeInfo` (HAZKInfo.proto). Given to `zk_active_node_info_encode`;
// returned by `zk_active_node_info_decode` (free with `zk_free_active_node_info`).
typedef struct zk_active_node_info {
  const char *nameservice_id;
  const char *namenode_id;
  const char *hostname;
  int32_t port;
  int32_t zkfc_port;
} zk_active_node_info;

// Called on the dispatch thread with each connection state (`ZK_STATE_*`). The last
// call is a terminal state: ZK_STATE_EXPIRED, ZK_STATE_AUTH_FAILED or ZK_STATE_CLOSED.
typedef void (*zk_state_fn)(struct zk_handle *zh, int state, void *ctx);

// Receives libzk's log lines: `level` is a ZK_LOG_*, `target` the module that logged
// ("zk_core::client::actor", ...), `message` the text with its fields ("connect failed:
// ... addr=127.0.0.1:2181"). Both strings are lent for the call.
typedef void (*zk_log_fn)(int level, const char *target, const char *message, void *ctx);

// A znode's metadata.
typedef struct zk_stat {
  int64_t czxid;
  int64_t mzxid;
  int64_t ctime;
  int64_t mtime;
  int32_t version;
  int32_t cversion;
  int32_t aversion;
  int64_t ephemeral_owner;
  int32_t data_length;
  int32_t num_children;
  int64_t pzxid;
} zk_stat;

// Completion of a create: the created path and its Stat (NULL unless rc is ZK_OK).
typedef void (*zk_create_completion)(zk_rc rc,
                                     const char *path,
                                     const struct zk_stat *stat,
                                     void *ctx);

// Completion with only a result code.
typedef void (*zk_void_completion)(zk_rc rc, void *ctx);

// Called on the dispatch thread when a watch fires: `type` is a ZK_*_EVENT, `state` a
// ZK_STATE_*, `path` the node (lent for the call; "" for session events).
typedef void (*zk_watcher_fn)(struct zk_handle *zh, int type, int state, const char *path, void *ctx);

// Completion with a Stat (NULL unless rc is ZK_OK).
typedef void (*zk_stat_completion)(zk_rc rc, const struct zk_stat *stat, void *ctx);

// Completion of a get: the data (NUL-terminated, `data_len` not counting it) and Stat.
typedef void (*zk_data_completion)(zk_rc rc,
                                   const uint8_t *data,
                                   size_t data_len,
                                   const struct zk_stat *stat,
                                   void *ctx);

// A library-allocated ACL list; free with `zk_free_acl_list`.
typedef struct zk_acl_list {
  struct zk_acl *items;
  size_t len;
} zk_acl_list;

// Completion of a get ACL.
typedef void (*zk_acl_completion)(zk_rc rc,
                                  const struct zk_acl_list *acl,
                                  const struct zk_stat *stat,
                                  void *ctx);

// A library-allocated list of strings; free with `zk_free_strings`.
typedef struct zk_strings {
  char **items;
  size_t len;
} zk_strings;

// Completion with a string list (children: with the parent's Stat; ephemerals: stat NULL).
typedef void (*zk_strings_completion)(zk_rc rc,
                                      const struct zk_strings *strings,
                                      const struct zk_stat *stat,
                                      void *ctx);

// One op of a `zk_multi` (the caller's memory, read during the call).
// `type`: ZK_OP_CREATE (path, data, data_len, acl, acl_len, mode, ttl_ms),
// ZK_OP_DELETE (path, version), ZK_OP_SET_DATA (path, data, data_len, version),
// ZK_OP_CHECK (path, version). Unused fields are ignored.
typedef struct zk_op {
  int type;
  const char *path;
  const uint8_t *data;
  size_t data_len;
  int32_t version;
  int mode;
  int64_t ttl_ms;
  const struct zk_acl *acl;
  size_t acl_len;
} zk_op;

// The result of one op of a successful multi: `path` is the created path for
// ZK_OP_CREATE (else NULL); `stat` is filled for ZK_OP_SET_DATA and for creates whose
// reply carries one (`has_stat`).
typedef struct zk_op_result {
  int type;
  char *path;
  int has_stat;
  struct zk_stat stat;
} zk_op_result;

// A library-allocated multi result list; free with `zk_free_op_results`.
typedef struct zk_op_results {
  struct zk_op_result *items;
  size_t len;
} zk_op_results;

// Completion of a multi: the results (NULL unless rc is ZK_OK).
typedef void (*zk_multi_completion)(zk_rc rc, const struct zk_op_results *results, void *ctx);

// One identity of this session (`zk_whoami`).
typedef struct zk_client_info {
  const char *scheme;
  const char *user;
} zk_client_info;

// A library-allocated whoami list; free with `zk_free_client_infos`.
typedef struct zk_client_infos {
  struct zk_client_info *items;
  size_t len;
} zk_client_infos;

// Completion of a whoami.
typedef void (*zk_whoami_completion)(zk_rc rc, const struct zk_client_infos *infos, void *ctx);

// Called on the dispatch thread when this participant gains (`is_leader` 1, with the
// fencing token) or loses (0, token -1) leadership. A gain is always followed by a loss
// before the last call, also when the handle closes or the session ends; after
// `zk_leader_close` returns there is no further call.
typedef void (*zk_leader_fn)(int is_leader, int64_t fencing_token, void *ctx);

#define ZK_OK 0

#define ZK_SYSTEMERROR -1

#define ZK_RUNTIMEINCONSISTENCY -2

#define ZK_DATAINCONSISTENCY -3

#define ZK_CONNECTIONLOSS -4

#define ZK_MARSHALLINGERROR -5

#define ZK_UNIMPLEMENTED -6

#define ZK_OPERATIONTIMEOUT -7

#define ZK_BADARGUMENTS -8

#define ZK_INVALIDSTATE -9

#define ZK_UNKNOWNSESSION -12

#define ZK_NEWCONFIGNOQUORUM -13

#define ZK_RECONFIGINPROGRESS -14

#define ZK_SSLCONNECTIONERROR -15

#define ZK_APIERROR -100

#define ZK_NONODE -101

#define ZK_NOAUTH -102

#define ZK_BADVERSION -103

#define ZK_NOCHILDRENFOREPHEMERALS -108

#define ZK_NODEEXISTS -110

#define ZK_NOTEMPTY -111

#define ZK_SESSIONEXPIRED -112

#define ZK_INVALIDCALLBACK -113

#define ZK_INVALIDACL -114

#define ZK_AUTHFAILED -115

#define ZK_CLOSING -116

#define ZK_NOTHING -117

#define ZK_SESSIONMOVED -118

#define ZK_NOTREADONLY -119

#define ZK_EPHEMERALONLOCALSESSION -120

#define ZK_NOWATCHER -121

#define ZK_REQUESTTIMEOUT -122

#define ZK_RECONFIGDISABLED -123

#define ZK_SESSIONCLOSEDREQUIRESASLAUTH -124

#define ZK_QUOTAEXCEEDED -125

#define ZK_THROTTLEDOP -127

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// Opens an elector for the parent znode in `config`, connecting to `hosts`
// ("host:port,...[/chroot]") with `options` (`ZK_OPTIONS_INIT` and a session timeout;
// Hadoop's ZKFC uses 10000 ms). Nothing is sent before the first call that needs a
// session. `config` is read during the call only (its callbacks and `ctx` are kept).
// Free with `zk_elector_close`.
//
// # Safety
//
// - `out`: NULL (ZK_BADARGUMENTS) or writable.
// - `hosts`: NULL or a NUL-terminated string.
// - `options`: as for `zk_open_with`.
// - `config`: NULL, or readable for `config->size` bytes (an older, smaller struct is
//   fine), with `parent_znode` and `auth_scheme` NULL or NUL-terminated strings, `acl`
//   as for `zk_create` (with `acl_len`), and `auth` NULL or `auth_len` readable bytes
//   (any pointer when `auth_len` is 0; read only with an `auth_scheme`).
// - Each callback in `config`: callable with `config->ctx` on the elector's dispatch
//   thread until `zk_elector_close` has returned.
zk_rc zk_elector_open(struct zk_elector **out,
                      const char *hosts,
                      const struct zk_options *options,
                      const struct zk_elector_config *config);

// Joins the election with `data` (stored in the lock, and in the breadcrumb once
// active; HDFS controllers store an encoded ActiveNodeInfo). Returns at once; the
// outcome comes through the callbacks. Already in the election: nothing changes.
//
// # Safety
//
// `data`: NULL or `len` readable bytes (any pointer when `len` is 0).
zk_rc zk_elector_join(struct zk_elector *e, const uint8_t *data, size_t len);

// Leaves the election, releasing the lock. An active leaving with `need_fence` 0 first
// deletes its breadcrumb (it has stopped acting as active: nobody needs to fence it);
// with `need_fence` non-zero the breadcrumb stays and the next active fences it.
// From outside a callback this returns once done; from inside one it returns at once
// and takes effect after the callback returns.
//
// # Safety
//
// None: `e` may be any value (it is looked up, never dereferenced).
zk_rc zk_elector_quit(struct zk_elector *e, int need_fence);

// A graceful handover (ZKFC's cedeActive): an active is told to become standby, quits
// (deleting its breadcrumb if `become_standby` returned non-zero) and stays out of the
// election for `ms`, then joins again with its last data; a standby just stays out.
// `ms` 0 ends a running cede at once. Waits like `zk_elector_quit`.
//
// # Safety
//
// None: `e` may be any value.
zk_rc zk_elector_cede(struct zk_elector *e, int64_t ms);

// Creates the parent znode and its ancestors (giving existing ones the configured ACL,
// as Hadoop does). Not while in the election (ZK_BADARGUMENTS); not from a callback
// (ZK_INVALIDSTATE: the elector waits for its callbacks).
//
// # Safety
//
// None: `e` may be any value.
zk_rc zk_elector_ensure_parent(struct zk_elector *e);

// Writes 1 to `*exists` if the parent znode exists, 0 if not. Not from a callback.
//
// # Safety
//
// `exists`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_elector_parent_exists(struct zk_elector *e, int *exists);

// `hdfs zkfc -formatZK`: an existing parent znode is deleted with everything below it
// only when `force` is non-zero; then the parent is created. `*formatted` (may be
// NULL) is 1 when the parent is fresh now, 0 when it existed and `force` was 0 (nothing
// changed: `hdfs zkfc` exits with 2 then). Not while in the election, not from a
// callback; only safe while no controller of this nameservice runs.
//
// # Safety
//
// `formatted`: NULL or writable.
zk_rc zk_elector_format(struct zk_elector *e, int force, int *formatted);

// The data in the lock, i.e. the active's (library-allocated; free with
// `zk_free_bytes`). ZK_NONODE when nobody is active. Not from a callback.
//
// # Safety
//
// `data`: NULL (ZK_BADARGUMENTS) or writable; `len`: NULL or writable.
zk_rc zk_elector_active_data(struct zk_elector *e, uint8_t **data, size_t *len);

// Writes the elector's state (`ZK_ELECTOR_*`) to `*state`.
//
// # Safety
//
// `state`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_elector_state(struct zk_elector *e, int *state);

// Writes the id of the elector's current session to `*session_id` (0 while it has
// none).
//
// # Safety
//
// `session_id`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_elector_session_id(struct zk_elector *e, int64_t *session_id);

// Ends the elector: closes its session (the lock goes, the breadcrumb stays, as with
// `zk_elector_quit(e, 1)`; quit with 0 first to leave gracefully) and frees it. NULL is
// a no-op (ZK_OK); one closed already is ZK_BADARGUMENTS. When it returns, no callback
// is running (unless this is called from inside one, which returns at once) and none
// will be called again, so `ctx` may be freed.
//
// # Safety
//
// None: `e` may be any value (it is looked up, never dereferenced).
zk_rc zk_elector_close(struct zk_elector *e);

// Encodes `info` as Hadoop's ActiveNodeInfo protobuf (the bytes HDFS controllers store;
// library-allocated, free with `zk_free_bytes`). Every string is required.
//
// # Safety
//
// - `info`: NULL (ZK_BADARGUMENTS) or a readable `zk_active_node_info` whose strings are
//   NULL (ZK_BADARGUMENTS) or NUL-terminated.
// - `data`: NULL (ZK_BADARGUMENTS) or writable; `len`: NULL or writable.
zk_rc zk_active_node_info_encode(const struct zk_active_node_info *info,
                                 uint8_t **data,
                                 size_t *len);

// Decodes Hadoop's ActiveNodeInfo protobuf (e.g. the `data` of `fence_old_active`)
// into a library-allocated struct (free with `zk_free_active_node_info`).
// ZK_MARSHALLINGERROR when the bytes are not one.
//
// # Safety
//
// - `data`: NULL or `len` readable bytes (any pointer when `len` is 0).
// - `out`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_active_node_info_decode(const uint8_t *data, size_t len, struct zk_active_node_info **out);

// Frees a `zk_active_node_info` from `zk_active_node_info_decode`. NULL is a no-op.
//
// # Safety
//
// `info`: NULL, or a struct `zk_active_node_info_decode` returned, not freed before,
// with its string pointers and the length of each string unchanged. Not one the caller
// built (for `zk_active_node_info_encode`).
void zk_free_active_node_info(struct zk_active_node_info *info);

// A static, NUL-terminated description of a `zk_rc` ("unknown error" for numbers
// ZooKeeper does not define). Never NULL; never free it.
const char *zk_error_string(zk_rc rc);

// Opens a handle and starts connecting in the background (operations issued before the
// session is up wait for it; see `zk_wait_connected`).
//
// - `hosts`: "host:port,host:port[/chroot]".
// - `session_timeout_ms`: requested session timeout (> 0).
// - `session_id`, `passwd`, `passwd_len`: resume that session (0 / NULL / 0 for a new one).
// - `state_cb` (may be NULL) is called on the dispatch thread with every state change,
//   with `ctx`.
//
// On success `*out` is the handle; free it with `zk_close`. `zk_open_with` takes more
// settings.
//
// # Safety
//
// - `out`: NULL (ZK_BADARGUMENTS) or writable.
// - `hosts`: NULL or a NUL-terminated string.
// - `passwd`: NULL or `passwd_len` readable bytes (any pointer when `passwd_len` is
//   0), also for a new session.
// - `state_cb` (may be NULL): callable with `ctx` on the handle's dispatch thread until
//   its last call (a terminal state; see CLOSE).
zk_rc zk_open(struct zk_handle **out,
              const char *hosts,
              int session_timeout_ms,
              int64_t session_id,
              const uint8_t *passwd,
              size_t passwd_len,
              zk_state_fn state_cb,
              void *ctx);

// `zk_open` with every setting in a `zk_options` (read during the call only).
//
// # Safety
//
// - `out`: NULL (ZK_BADARGUMENTS) or writable.
// - `hosts`: NULL or a NUL-terminated string.
// - `options`: NULL, or readable for `options->size` bytes (an older, smaller struct
//   is fine; see `zk_options`), with `passwd` NULL or readable for `passwd_len` bytes
//   (any pointer when `passwd_len` is 0) and each `tls_*_file` NULL or a NUL-terminated
//   string.
// - `state_cb` (may be NULL): callable with `ctx` on the handle's dispatch thread until
//   its last call (a terminal state; see CLOSE).
//
// With `tls_ca_file` set, an unreadable or unusable TLS file (or a certificate without
// its key) is ZK_BADARGUMENTS, and a warning naming the file goes to the log
// (`zk_set_log_fn`).
zk_rc zk_open_with(struct zk_handle **out,
                   const char *hosts,
                   const struct zk_options *options,
                   zk_state_fn state_cb,
                   void *ctx);

// Closes the session (the server deletes its ephemeral nodes) and frees the handle.
// NULL is a no-op (ZK_OK); a handle that is not open (closed already, or never
// returned by `zk_open`) is ZK_BADARGUMENTS, and from the moment close starts every
// other call on the handle returns ZK_BADARGUMENTS too.
//
// Every async operation accepted before gets its completion exactly once (its result,
// or ZK_CLOSING), every watch still set gets one last ZK_SESSION_EVENT with
// ZK_STATE_CLOSED, and the state callback ends with ZK_STATE_CLOSED: all of that before
// `zk_close` returns, however long the server takes to answer (at most the connect
// timeout, 5 s by default), so the contexts may be freed then. Safe from any thread
// and from inside any callback of this handle: there it returns once the session is
// closed, and the owed callbacks run after the current one returns.
//
// # Safety
//
// None: `zh` may be any value (it is looked up, never dereferenced).
zk_rc zk_close(struct zk_handle *zh);

// Waits until the session is connected, at most `timeout_ms`. ZK_OK, or
// ZK_OPERATIONTIMEOUT, ZK_SESSIONEXPIRED, ZK_AUTHFAILED, ZK_CLOSING.
//
// # Safety
//
// None: `zh` may be any value.
zk_rc zk_wait_connected(struct zk_handle *zh, int64_t timeout_ms);

// Writes the current connection state (`ZK_STATE_*`) to `*state`.
//
// # Safety
//
// `state`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_state(struct zk_handle *zh, int *state);

// Writes the session id to `*session_id` (0 before the first connect).
//
// # Safety
//
// `session_id`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_session_id(struct zk_handle *zh, int64_t *session_id);

// Writes the negotiated session timeout in ms to `*timeout_ms` (0 before the first
// connect).
//
// # Safety
//
// `timeout_ms`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_session_timeout_ms(struct zk_handle *zh, int64_t *timeout_ms);

// The session password (library-allocated; free with `zk_free_bytes`), to resume the
// session from another handle with `zk_open`.
//
// # Safety
//
// `passwd`: NULL (ZK_BADARGUMENTS) or writable; `passwd_len`: NULL or writable.
zk_rc zk_session_password(struct zk_handle *zh, uint8_t **passwd, size_t *passwd_len);

// The library version ("0.1.0"): a static string, never freed.
const char *zk_version(void);

// Sends libzk's log lines to `log_fn` (NULL: stop; nothing is logged by default) with
// `ctx`, from the library's own log thread ("zk-log"), one line at a time, in order,
// never from the network threads. Lines at ZK_LOG_INFO and above are sent unless
// `zk_set_log_level` says otherwise. If `log_fn` falls behind, lines are dropped and a
// warning says how many.
//
// When this returns, the previous function is no longer running and will not be called
// again (unless this is called from inside it). It may call any function of this API.
//
// ZK_INVALIDSTATE: the process already has a global `tracing` subscriber (a Rust program
// that links libzk statically and installed its own): libzk's events go to that one.
//
// # Safety
//
// `log_fn` (may be NULL): callable with `ctx` from the library's log thread, at any
// time, until a later `zk_set_log_fn` call has returned.
zk_rc zk_set_log_fn(zk_log_fn log_fn, void *ctx);

// The most verbose level sent to the log function: ZK_LOG_ERROR ... ZK_LOG_TRACE
// (default ZK_LOG_INFO). ZK_BADARGUMENTS for anything else.
zk_rc zk_set_log_level(int level);

// Creates a node in any of the seven modes (ZK_PERSISTENT ... ZK_PERSISTENT_SEQUENTIAL_WITH_TTL).
// `acl` NULL with `acl_len` 0 means open (world:anyone, ZK_PERM_ALL). `ttl_ms` must be
// positive for the TTL modes and 0 otherwise. `path_out` (may be NULL) receives the created
// path (with any sequence suffix; free with `zk_free_string`); `stat` (may be NULL) its Stat.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
// - `acl`: NULL, or `acl_len` readable `zk_acl`s (any pointer when `acl_len` is 0),
//   each with `scheme` and `id` NULL or a NUL-terminated string.
// - `path_out`, `stat`: NULL or writable.
zk_rc zk_create(struct zk_handle *zh,
                const char *path,
                const uint8_t *data,
                size_t data_len,
                const struct zk_acl *acl,
                size_t acl_len,
                int mode,
                int64_t ttl_ms,
                char **path_out,
                struct zk_stat *stat);

// Asynchronous `zk_create`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
// - `acl`: NULL, or `acl_len` readable `zk_acl`s (any pointer when `acl_len` is 0),
//   each with `scheme` and `id` NULL or a NUL-terminated string.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_acreate(struct zk_handle *zh,
                 const char *path,
                 const uint8_t *data,
                 size_t data_len,
                 const struct zk_acl *acl,
                 size_t acl_len,
                 int mode,
                 int64_t ttl_ms,
                 zk_create_completion completion,
                 void *ctx);

// Deletes a node; `version` -1 matches any.
//
// # Safety
//
// `path`: NULL or a NUL-terminated string.
zk_rc zk_delete(struct zk_handle *zh, const char *path, int32_t version);

// Asynchronous `zk_delete`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_adelete(struct zk_handle *zh,
                 const char *path,
                 int32_t version,
                 zk_void_completion completion,
                 void *ctx);

// Whether a node exists: ZK_OK (and `stat`, may be NULL) or ZK_NONODE. With a
// `watcher` (may be NULL), leaves a one-shot watch that fires on create, delete or change.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
//   thread until the watch's last call (see WATCHES).
// - `stat`: NULL or writable.
zk_rc zk_exists(struct zk_handle *zh,
                const char *path,
                zk_watcher_fn watcher,
                void *watcher_ctx,
                struct zk_stat *stat);

// Asynchronous `zk_exists` (rc ZK_NONODE with stat NULL for a missing node).
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
//   thread until the watch's last call (see WATCHES).
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aexists(struct zk_handle *zh,
                 const char *path,
                 zk_watcher_fn watcher,
                 void *watcher_ctx,
                 zk_stat_completion completion,
                 void *ctx);

// Reads a node's data. `data` receives a library-allocated copy (NUL-terminated for
// convenience; `data_len` excludes the NUL; free with `zk_free_bytes`). With a
// `watcher`, leaves a one-shot data watch.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
//   thread until the watch's last call (see WATCHES).
// - `data`, `data_len`, `stat`: NULL or writable.
zk_rc zk_get(struct zk_handle *zh,
             const char *path,
             zk_watcher_fn watcher,
             void *watcher_ctx,
             uint8_t **data,
             size_t *data_len,
             struct zk_stat *stat);

// Asynchronous `zk_get`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
//   thread until the watch's last call (see WATCHES).
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aget(struct zk_handle *zh,
              const char *path,
              zk_watcher_fn watcher,
              void *watcher_ctx,
              zk_data_completion completion,
              void *ctx);

// Sets a node's data if its version matches (`version` -1 matches any).
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
// - `stat`: NULL or writable.
zk_rc zk_set(struct zk_handle *zh,
             const char *path,
             const uint8_t *data,
             size_t data_len,
             int32_t version,
             struct zk_stat *stat);

// Asynchronous `zk_set`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `data`: NULL or `data_len` readable bytes (any pointer when `data_len` is 0).
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aset(struct zk_handle *zh,
              const char *path,
              const uint8_t *data,
              size_t data_len,
              int32_t version,
              zk_stat_completion completion,
              void *ctx);

// Reads a node's ACL (`acl`: free with `zk_free_acl_list`).
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `acl`, `stat`: NULL or writable.
zk_rc zk_get_acl(struct zk_handle *zh,
                 const char *path,
                 struct zk_acl_list **acl,
                 struct zk_stat *stat);

// Asynchronous `zk_get_acl`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aget_acl(struct zk_handle *zh, const char *path, zk_acl_completion completion, void *ctx);

// Replaces a node's ACL if its ACL version matches (`version` -1 matches any).
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `acl`: NULL (ZK_BADARGUMENTS), or `acl_len` readable `zk_acl`s (any pointer when
//   `acl_len` is 0), each with `scheme` and `id` NULL or a NUL-terminated string.
// - `stat`: NULL or writable.
zk_rc zk_set_acl(struct zk_handle *zh,
                 const char *path,
                 const struct zk_acl *acl,
                 size_t acl_len,
                 int32_t version,
                 struct zk_stat *stat);

// Asynchronous `zk_set_acl`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `acl`: NULL (ZK_BADARGUMENTS), or `acl_len` readable `zk_acl`s (any pointer when
//   `acl_len` is 0), each with `scheme` and `id` NULL or a NUL-terminated string.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aset_acl(struct zk_handle *zh,
                  const char *path,
                  const struct zk_acl *acl,
                  size_t acl_len,
                  int32_t version,
                  zk_stat_completion completion,
                  void *ctx);

// Lists a node's children (`children`: free with `zk_free_strings`) with the node's
// Stat. With a `watcher`, leaves a one-shot children watch.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
//   thread until the watch's last call (see WATCHES).
// - `children`, `stat`: NULL or writable.
zk_rc zk_get_children(struct zk_handle *zh,
                      const char *path,
                      zk_watcher_fn watcher,
                      void *watcher_ctx,
                      struct zk_strings **children,
                      struct zk_stat *stat);

// Asynchronous `zk_get_children`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (may be NULL): callable with `watcher_ctx` on the handle's dispatch
//   thread until the watch's last call (see WATCHES).
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aget_children(struct zk_handle *zh,
                       const char *path,
                       zk_watcher_fn watcher,
                       void *watcher_ctx,
                       zk_strings_completion completion,
                       void *ctx);

// Waits until the connected server has caught up with the leader (for `path`).
//
// # Safety
//
// `path`: NULL or a NUL-terminated string.
zk_rc zk_sync(struct zk_handle *zh, const char *path);

// Asynchronous `zk_sync`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_async(struct zk_handle *zh, const char *path, zk_void_completion completion, void *ctx);

// Applies `count` ops atomically: all or none. On failure rc is the failing op's code.
// `results` (may be NULL) receives one result per op; free with `zk_free_op_results`.
//
// # Safety
//
// - `ops`: NULL (ZK_BADARGUMENTS unless `count` is 0), or `count` readable `zk_op`s
//   (any pointer when `count` is 0). In each, `path` NULL or a NUL-terminated string;
//   for ZK_OP_CREATE and ZK_OP_SET_DATA, `data` NULL or `data_len` readable bytes; for
//   ZK_OP_CREATE, `acl` as for `zk_create`.
// - `results`: NULL or writable.
zk_rc zk_multi(struct zk_handle *zh,
               const struct zk_op *ops,
               size_t count,
               struct zk_op_results **results);

// Asynchronous `zk_multi`.
//
// # Safety
//
// - `ops`: NULL (ZK_BADARGUMENTS unless `count` is 0), or `count` readable `zk_op`s
//   (any pointer when `count` is 0). In each, `path` NULL or a NUL-terminated string;
//   for ZK_OP_CREATE and ZK_OP_SET_DATA, `data` NULL or `data_len` readable bytes; for
//   ZK_OP_CREATE, `acl` as for `zk_create`.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_amulti(struct zk_handle *zh,
                const struct zk_op *ops,
                size_t count,
                zk_multi_completion completion,
                void *ctx);

// Adds credentials (`scheme` "digest", `cert` "user:password") to the session; they
// are sent again after every reconnect. ZK_AUTHFAILED if the server refuses them.
//
// # Safety
//
// - `scheme`: NULL or a NUL-terminated string.
// - `cert`: NULL or `cert_len` readable bytes (any pointer when `cert_len` is 0).
zk_rc zk_add_auth(struct zk_handle *zh, const char *scheme, const uint8_t *cert, size_t cert_len);

// Asynchronous `zk_add_auth`.
//
// # Safety
//
// - `scheme`: NULL or a NUL-terminated string.
// - `cert`: NULL or `cert_len` readable bytes (any pointer when `cert_len` is 0).
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aadd_auth(struct zk_handle *zh,
                   const char *scheme,
                   const uint8_t *cert,
                   size_t cert_len,
                   zk_void_completion completion,
                   void *ctx);

// This session's ephemeral nodes under `prefix` (NULL or "/" for all); free the list
// with `zk_free_strings`.
//
// # Safety
//
// - `prefix`: NULL or a NUL-terminated string.
// - `paths`: NULL or writable.
zk_rc zk_get_ephemerals(struct zk_handle *zh, const char *prefix, struct zk_strings **paths);

// Asynchronous `zk_get_ephemerals` (stat is NULL in the completion).
//
// # Safety
//
// - `prefix`: NULL or a NUL-terminated string.
// - `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
//   until its one call (see ASYNC CALLS).
zk_rc zk_aget_ephemerals(struct zk_handle *zh,
                         const char *prefix,
                         zk_strings_completion completion,
                         void *ctx);

// The identities the server associates with this session (`infos`: free with
// `zk_free_client_infos`).
//
// # Safety
//
// `infos`: NULL or writable.
zk_rc zk_whoami(struct zk_handle *zh, struct zk_client_infos **infos);

// Asynchronous `zk_whoami`.
//
// # Safety
//
// `completion` (may be NULL): callable with `ctx` on the handle's dispatch thread
// until its one call (see ASYNC CALLS).
zk_rc zk_awhoami(struct zk_handle *zh, zk_whoami_completion completion, void *ctx);

// A lock on `path` (created on first use). Free with `zk_lock_free`.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `out`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_lock_new(struct zk_handle *zh, const char *path, struct zk_lock **out);

// Acquires the lock: `timeout_ms` < 0 waits as long as it takes, 0 only tries, > 0
// waits at most that long. ZK_OK with `*acquired` (may be NULL) 1 when held, 0 when not
// acquired in time; an error code otherwise. Holding it already is ZK_OK, acquired 1.
//
// # Safety
//
// `acquired`: NULL or writable.
zk_rc zk_lock_acquire(struct zk_lock *lock, int64_t timeout_ms, int *acquired);

// Releases the lock (deletes our node). Not holding it is ZK_OK.
//
// # Safety
//
// None: `lock` may be any value (it is looked up, never dereferenced).
zk_rc zk_lock_release(struct zk_lock *lock);

// Writes 1 to `*held` while the lock is held and not lost (a disconnect, session
// expiry or deletion of our node loses it), 0 otherwise.
//
// # Safety
//
// `held`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_lock_is_held(struct zk_lock *lock, int *held);

// Writes the fencing token of the current hold to `*token` (larger for every later
// holder), or -1 when the lock is not held.
//
// # Safety
//
// `token`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_lock_fencing_token(struct zk_lock *lock, int64_t *token);

// Releases the lock if held and frees it. NULL is a no-op (ZK_OK); a lock freed
// already is ZK_BADARGUMENTS. Waits for a `zk_lock_acquire` running on another thread.
//
// # Safety
//
// None: `lock` may be any value.
zk_rc zk_lock_free(struct zk_lock *lock);

// Joins the election at `path` as participant `id` (stored in our node, as Curator
// does) and stays a candidate until `zk_leader_close`. `cb` (may be NULL) hears every
// change of leadership on the dispatch thread. Free with `zk_leader_close`.
//
// # Safety
//
// - `path`, `id`: NULL or NUL-terminated strings.
// - `cb` (may be NULL): callable with `ctx` on the handle's dispatch thread until its
//   last call: at the latest when `zk_leader_close`, or the handle's `zk_close`,
//   returns (see `zk_leader_fn`).
// - `out`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_leader_start(struct zk_handle *zh,
                      const char *path,
                      const char *id,
                      zk_leader_fn cb,
                      void *ctx,
                      struct zk_leader **out);

// Writes 1 to `*is_leader` while this participant leads, 0 otherwise.
//
// # Safety
//
// `is_leader`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_leader_is_leader(struct zk_leader *leader, int *is_leader);

// Waits until leading or `timeout_ms` passes (< 0: no limit). ZK_OK with `*is_leader`
// (may be NULL) 1 or 0; ZK_CLOSING once the election ended.
//
// # Safety
//
// `is_leader`: NULL or writable.
zk_rc zk_leader_wait(struct zk_leader *leader, int64_t timeout_ms, int *is_leader);

// Writes the fencing token to `*token` while leading, -1 otherwise.
//
// # Safety
//
// `token`: NULL (ZK_BADARGUMENTS) or writable.
zk_rc zk_leader_fencing_token(struct zk_leader *leader, int64_t *token);

// Leaves the election (deletes our node), stops the callbacks and frees the
// participant. NULL is a no-op (ZK_OK); one closed already is ZK_BADARGUMENTS. When it
// returns, the leadership callback is not running (unless this is called from inside
// it) and will not be called again.
//
// # Safety
//
// None: `leader` may be any value (it is looked up, never dereferenced).
zk_rc zk_leader_close(struct zk_leader *leader);

// Frees a string the library returned. NULL is a no-op.
//
// # Safety
//
// `s`: NULL, or a string the library handed over to be freed with this function (e.g.
// `zk_create`'s `path_out`), not freed before and still of its original length (no NUL
// written into it). Not a string inside a returned struct or list, nor one lent to a
// callback.
void zk_free_string(char *s);

// Frees bytes the library returned (`zk_get`, `zk_session_password`). NULL is a no-op.
//
// # Safety
//
// `data`: NULL, or bytes the library handed over to be freed with this function
// (`zk_get`, `zk_session_password`, `zk_elector_active_data`,
// `zk_active_node_info_encode`), not freed before. Not bytes lent to a callback.
void zk_free_bytes(uint8_t *data);

// Frees a `zk_strings` and every string in it. NULL is a no-op.
//
// # Safety
//
// `list`: NULL, or a list the library handed over to be freed with this function
// (`zk_get_children`, `zk_get_ephemerals`), not freed before, with `items`, `len` and
// the length of every string unchanged. Not a list lent to a completion.
void zk_free_strings(struct zk_strings *list);

// Frees a `zk_acl_list` the library returned. NULL is a no-op.
//
// # Safety
//
// `list`: NULL, or a list the library handed over to be freed with this function
// (`zk_get_acl`), not freed before, with `items`, `len` and the length of every
// string unchanged. Not a list lent to a completion.
void zk_free_acl_list(struct zk_acl_list *list);

// Frees a `zk_client_infos`. NULL is a no-op.
//
// # Safety
//
// `list`: NULL, or a list the library handed over to be freed with this function
// (`zk_whoami`), not freed before, with `items`, `len` and the length of every string
// unchanged. Not a list lent to a completion.
void zk_free_client_infos(struct zk_client_infos *list);

// Frees a `zk_op_results`. NULL is a no-op.
//
// # Safety
//
// `list`: NULL, or results the library handed over to be freed with this function
// (`zk_multi`), not freed before, with `items`, `len` and the length of every `path`
// unchanged. Not results lent to a completion.
void zk_free_op_results(struct zk_op_results *list);

// Adds a persistent watch (`ZK_ADD_WATCH_PERSISTENT`: data and children changes of
// `path`) or a recursive one (`ZK_ADD_WATCH_PERSISTENT_RECURSIVE`: every change at or
// below `path`). It stays until removed with `zk_remove_watches` or the session ends;
// each event calls `watcher` on the dispatch thread.
//
// # Safety
//
// - `path`: NULL or a NUL-terminated string.
// - `watcher` (NULL: ZK_BADARGUMENTS): callable with `watcher_ctx` on the handle's
//   dispatch thread until the watch's last call (see WATCHES).
zk_rc zk_add_watch(struct zk_handle *zh,
                   const char *path,
                   int mode,
                   zk_watcher_fn watcher,
                   void *watcher_ctx);

// Removes the watches this handle set on `path` of `type` (ZK_WATCHER_CHILDREN,
// ZK_WATCHER_DATA (data and exists watches), ZK_WATCHER_PERSISTENT,
// ZK_WATCHER_PERSISTENT_RECURSIVE or ZK_WATCHER_ANY). Each removed watcher is called
// once more with ZK_DATA_WATCH_REMOVED_EVENT, ZK_CHILD_WATCH_REMOVED_EVENT or
// ZK_PERSISTENT_WATCH_REMOVED_EVENT. ZK_NOWATCHER if there was none.
//
// # Safety
//
// `path`: NULL or a NUL-terminated string.
zk_rc zk_remove_watches(struct zk_handle *zh, const char *path, int type);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* ZK_H */
