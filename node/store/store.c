/* The ledger store on LMDB (see store.h).
 *
 * Concurrency. LMDB allows one write transaction at a time and any number
 * of read transactions; with MDB_NOTLS a read transaction is tied to its
 * MDB_txn object, not to a thread. Three things are ours to coordinate:
 *
 * - commits: write_mutex serialises store_commit (and so map growth, which
 *   only a commit does);
 * - map growth: mdb_env_set_mapsize unmaps and remaps the file, so no read
 *   transaction of this process may be open meanwhile (the caller must
 *   ensure it; LMDB does not check). read_mutex guards readers_open and
 *   growing: a read counts itself in readers_open for its whole life; a
 *   growth sets growing, waits on read_cond until readers_open is 0,
 *   remaps, clears growing and broadcasts. New reads wait while growing is
 *   set, so a stream of readers cannot starve a commit; the wait is as long
 *   as the longest read open when the growth starts.
 *   This is a reader-writer lock made of a mutex and a condition variable
 *   rather than a pthread_rwlock because a read may be ended by another
 *   thread than the one that began it, which a pthread_rwlock forbids.
 * - misuse that would deadlock: a thread holding a read that begins a
 *   second read or commits could wait for its own read during a growth. We
 *   record the beginning thread in each read and assert on both, always,
 *   so that the mistake shows in tests and not only under growth.
 *
 * Reads come from a pool of max_readers entries made at open. Each entry
 * keeps its MDB_txn between uses (mdb_txn_reset / mdb_txn_renew), so a read
 * allocates only the first time its entry is used; a reset transaction
 * holds no pointer into the map, so growth is safe with idle entries.
 *
 * Batches are one byte buffer of ops: [db u8][op u8][klen u16 BE]
 * [vlen u32 BE][key][value], appended in order and applied in order. */
#include "store/store.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_VERSION_KEY "store.version"
#define STORE_LOCK_NAME "LOCK"

/* LMDB reader slots beyond our pool, for tools such as mdb_stat that open
 * the environment read-only next to a running node. */
#define STORE_READERS_SPARE 4u

#define STORE_OP_HEADER_SIZE 8u
#define STORE_OP_PUT 1u
#define STORE_OP_DEL 2u

/* Iterator states. */
#define STORE_ITER_FRESH 1  /* positioned on the first key to return */
#define STORE_ITER_ACTIVE 2 /* returned a key; the next call moves */
#define STORE_ITER_DONE 3   /* no more keys */

_Static_assert(STORE_KEY_SIZE_MAX <= UINT16_MAX, "klen fits the op header");
_Static_assert(STORE_DB_COUNT <= UINT8_MAX, "db fits the op header");
_Static_assert(sizeof(size_t) >= sizeof(uint64_t), "64-bit sizes");
_Static_assert(STORE_MAP_SIZE_MIN <= STORE_MAP_SIZE_INITIAL_DEFAULT &&
                   STORE_MAP_SIZE_INITIAL_DEFAULT <=
                       STORE_MAP_SIZE_MAX_DEFAULT &&
                   STORE_MAP_SIZE_MAX_DEFAULT <= STORE_MAP_SIZE_LIMIT,
               "defaults within range");

struct store_read
{
    struct store *store;           /* owner */
    MDB_txn *txn;                  /* NULL until first use; reset while idle */
    struct store_read *next;       /* free list, or open list */
    struct store_read *prev;       /* open list */
    uint64_t owner;                /* store_thread_id() of its beginner */
    int open;                      /* 1 between begin and end */
    unsigned iters_open;           /* iterators not yet closed */
    char errmsg[TDEI_ERRMSG_SIZE]; /* last failure */
};

struct store
{
    MDB_env *env;
    MDB_dbi dbi[STORE_DB_COUNT];
    struct store_options opts; /* validated, rounded to pages */
    char *dir;                 /* copy of the path, for messages */
    int lock_fd;               /* DIR/LOCK, flocked; -1 when none */
    uint64_t map_size;         /* bytes; changed by a growth only */

    pthread_mutex_t write_mutex;   /* one commit at a time */
    pthread_mutex_t read_mutex;    /* guards the read fields below */
    pthread_cond_t read_cond;      /* readers drained, or growth ended */
    unsigned readers_open;         /* reads between begin and end */
    int growing;                   /* 1 while a growth waits or remaps */
    struct store_read *pool;       /* max_readers entries */
    struct store_read *free_reads; /* unused entries */
    struct store_read *open_reads; /* entries in use */

    atomic_int broken; /* 1: LMDB failed; reopen */
    atomic_uint_fast64_t growths;
    atomic_uint_fast64_t commits;
};

struct store_batch
{
    uint8_t *buf;                  /* encoded ops */
    size_t len;                    /* bytes used */
    size_t cap;                    /* bytes allocated */
    size_t size_max;               /* bytes allowed */
    size_t ops;                    /* number of ops */
    size_t bytes;                  /* key + value bytes */
    int err;                       /* first refused op's code, or 0 */
    char errmsg[TDEI_ERRMSG_SIZE]; /* its message */
};

static const char *const store_db_names[STORE_DB_COUNT] = {
    [STORE_DB_BLOCKS] = "blocks", [STORE_DB_BLOCK_IDS] = "block_ids",
    [STORE_DB_TXS] = "txs",       [STORE_DB_RESULTS] = "results",
    [STORE_DB_STATE] = "state",   [STORE_DB_INDEX] = "index",
    [STORE_DB_META] = "meta",     [STORE_DB_SIGNER] = "signer",
};

/* Thread identities for the misuse asserts: a number per thread, never
 * reused in the life of the process (a pthread_t can be reused once its
 * thread has exited, and a read may outlive the thread that began it). */
static atomic_uint_fast64_t store_thread_seq;
static _Thread_local uint64_t store_thread_self;

static uint64_t store_thread_id(void)
{
    if (store_thread_self == 0) {
        store_thread_self = atomic_fetch_add(&store_thread_seq, 1) + 1;
    }
    return store_thread_self;
}

/* ---- small helpers ------------------------------------------------------- */

void store_u64_encode(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

uint64_t store_u64_decode(const uint8_t in[8])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

void store_u32_encode(uint8_t out[4], uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

uint32_t store_u32_decode(const uint8_t in[4])
{
    uint32_t v = 0;

    for (int i = 0; i < 4; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

const char *store_db_name(enum store_db db)
{
    TDEI_ASSERT((unsigned)db < STORE_DB_COUNT);
    return store_db_names[db];
}

struct store_options store_options_default(void)
{
    struct store_options opts = {
        .map_size_initial = STORE_MAP_SIZE_INITIAL_DEFAULT,
        .map_size_growth = STORE_MAP_SIZE_GROWTH_DEFAULT,
        .map_size_max = STORE_MAP_SIZE_MAX_DEFAULT,
        .max_readers = STORE_READERS_MAX_DEFAULT,
    };
    return opts;
}

int store_code(int rc)
{
    switch (rc) {
    case MDB_NOTFOUND:
    case ENOENT:
        return TDEI_NOTFOUND;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EDQUOT:
        return TDEI_NOSPACE;
    case ENOMEM:
        return TDEI_NOMEM;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return TDEI_CORRUPT;
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
        return TDEI_VERSION;
    case MDB_READERS_FULL:
        return TDEI_BUSY;
    case MDB_TXN_FULL:
    case MDB_BAD_VALSIZE:
        return TDEI_TOOBIG;
    case EACCES:
    case EPERM:
    case EROFS:
        return TDEI_PERM;
    default:
        return TDEI_IOERR;
    }
}

/* Record that LMDB reported @rc; after MDB_PANIC the environment refuses
 * every transaction until it is reopened, so the store says so early. */
static void store_note_failure(struct store *s, int rc)
{
    if (rc == MDB_PANIC) {
        atomic_store(&s->broken, 1);
    }
}

static int store_broken_error(const struct store *s, char *errmsg)
{
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                       "store %s failed earlier (I/O error or failed map "
                       "resize); restart the node to reopen it",
                       s->dir);
}

/* Does @key (@klen bytes) start with @it's prefix? */
static int store_iter_has_prefix(const struct store_iter *it,
                                 const MDB_val *key)
{
    return key->mv_size >= it->prefix_len &&
           memcmp(key->mv_data, it->prefix, it->prefix_len) == 0;
}

/* ---- options ------------------------------------------------------------- */

static uint64_t store_round_up(uint64_t v, uint64_t unit)
{
    return (v + unit - 1) / unit * unit;
}

/* Check @in and write it, rounded up to whole OS pages, to @out. */
static int store_options_check(struct store_options *out,
                               const struct store_options *in, char *errmsg)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t unit = page > 0 ? (uint64_t)page : 4096u;

    if (in->map_size_max < STORE_MAP_SIZE_MIN ||
        in->map_size_max > STORE_MAP_SIZE_LIMIT) {
        return tdei_errorf(
            errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
            "store.map_size_max=%" PRIu64 " is outside %llu-%llu bytes",
            in->map_size_max, STORE_MAP_SIZE_MIN, STORE_MAP_SIZE_LIMIT);
    }
    if (in->map_size_initial < STORE_MAP_SIZE_MIN ||
        in->map_size_initial > in->map_size_max) {
        return tdei_errorf(
            errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
            "store.map_size_initial=%" PRIu64 " is outside %llu-%" PRIu64
            " bytes (up to store.map_size_max)",
            in->map_size_initial, STORE_MAP_SIZE_MIN, in->map_size_max);
    }
    if (in->map_size_growth < STORE_MAP_SIZE_MIN ||
        in->map_size_growth > in->map_size_max) {
        return tdei_errorf(
            errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
            "store.map_size_growth=%" PRIu64 " is outside %llu-%" PRIu64
            " bytes (up to store.map_size_max)",
            in->map_size_growth, STORE_MAP_SIZE_MIN, in->map_size_max);
    }
    if (in->max_readers < 1 || in->max_readers > STORE_READERS_LIMIT) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "store.max_readers=%u is outside 1-%u",
                           in->max_readers, STORE_READERS_LIMIT);
    }
    out->map_size_initial = store_round_up(in->map_size_initial, unit);
    out->map_size_growth = store_round_up(in->map_size_growth, unit);
    out->map_size_max = store_round_up(in->map_size_max, unit);
    out->max_readers = in->max_readers;
    out->no_sync = in->no_sync != 0;
    return 0;
}

/* ---- directory and lock -------------------------------------------------- */

/* Create @dir (0700) unless it exists; it must be a directory. */
static int store_make_dir(const char *dir, char *errmsg)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int err = errno;
        int code = err == ENOENT                     ? TDEI_NOTFOUND
                   : (err == EACCES || err == EROFS) ? TDEI_PERM
                   : err == ENOSPC                   ? TDEI_NOSPACE
                                                     : TDEI_IOERR;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, code,
                           "create data dir %s: %s; check that its parent "
                           "exists and is writable",
                           dir, strerror(err));
    }
    if (stat(dir, &st) != 0) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                           err == EACCES ? TDEI_PERM : TDEI_IOERR,
                           "stat data dir %s: %s", dir, strerror(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "data dir %s is not a directory; move the file "
                           "away or choose another home",
                           dir);
    }
    return 0;
}

/* Read the pid written in the lock file @fd; -1 when unreadable. */
/* ---- open and close ------------------------------------------------------ */

/* Open the environment of @s in @s->dir and size its map. */
static int store_env_open(struct store *s, char *errmsg)
{
    MDB_envinfo info;
    uint64_t target;
    int rc;

    rc = mdb_env_create(&s->env);
    if (rc != 0) {
        s->env = NULL;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "create LMDB environment: %s", mdb_strerror(rc));
    }
    /* No mapsize before open: LMDB then adopts the size stored in the
     * file (the one the map had grown to), or its default for a new one. */
    rc = mdb_env_set_maxreaders(s->env,
                                s->opts.max_readers + STORE_READERS_SPARE);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(s->env, STORE_DB_COUNT);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "configure LMDB environment: %s", mdb_strerror(rc));
    }
    if (mdb_env_get_maxkeysize(s->env) < (int)STORE_KEY_SIZE_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_VERSION,
                           "liblmdb allows keys of %d bytes, tdei needs "
                           "%u; install the Debian liblmdb0 package",
                           mdb_env_get_maxkeysize(s->env), STORE_KEY_SIZE_MAX);
    }
    rc = mdb_env_open(s->env, s->dir,
                      MDB_NOTLS | (s->opts.no_sync ? MDB_NOSYNC : 0u), 0600);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "open LMDB environment in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    rc = mdb_env_info(s->env, &info);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "read LMDB environment info in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    target = info.me_mapsize;
    if (target < s->opts.map_size_initial) {
        target = s->opts.map_size_initial;
    }
    if (target > s->opts.map_size_max) {
        target = s->opts.map_size_max; /* LMDB keeps at least the data */
    }
    if (target != info.me_mapsize) {
        rc = mdb_env_set_mapsize(s->env, target);
        if (rc == 0) {
            rc = mdb_env_info(s->env, &info);
        }
        if (rc != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "set map size of %s to %" PRIu64 ": %s", s->dir,
                               target, mdb_strerror(rc));
        }
    }
    s->map_size = info.me_mapsize;
    /* Reader slots of a crashed process are normally cleared when the
     * first process opens the lock file; this also catches the rest. */
    (void)mdb_reader_check(s->env, NULL);
    return 0;
}

/* Check the format version in @txn; write it into a new store. */
static int store_version_check(struct store *s, MDB_txn *txn, char *errmsg)
{
    MDB_val key = {.mv_size = sizeof(STORE_VERSION_KEY) - 1,
                   .mv_data = (void *)STORE_VERSION_KEY};
    MDB_val val;
    uint8_t buf[8];
    int rc;

    rc = mdb_get(txn, s->dbi[STORE_DB_META], &key, &val);
    if (rc == 0) {
        uint64_t version;
        if (val.mv_size != sizeof(buf)) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                               "data dir %s: store.version has %zu bytes, "
                               "not 8; restore it from a backup",
                               s->dir, val.mv_size);
        }
        version = store_u64_decode(val.mv_data);
        if (version != STORE_FORMAT_VERSION) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_VERSION,
                               "data dir %s has store format version %" PRIu64
                               "; this tdei reads version %u; use the tdei "
                               "that wrote it",
                               s->dir, version, STORE_FORMAT_VERSION);
        }
        return 0;
    }
    if (rc != MDB_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "read store.version in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    /* No version: only a brand-new, empty store may be stamped. */
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        MDB_stat st;
        rc = mdb_stat(txn, s->dbi[db], &st);
        if (rc != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "count records of %s in %s: %s",
                               store_db_names[db], s->dir, mdb_strerror(rc));
        }
        if (st.ms_entries != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                               "data dir %s holds records in %s but no "
                               "store.version; it was not written by tdei",
                               s->dir, store_db_names[db]);
        }
    }
    store_u64_encode(buf, STORE_FORMAT_VERSION);
    val.mv_size = sizeof(buf);
    val.mv_data = buf;
    rc = mdb_put(txn, s->dbi[STORE_DB_META], &key, &val, 0);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "write store.version in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    return 0;
}

/* Open (creating) the named databases and check the format version, in
 * one write transaction. */
static int store_dbs_open(struct store *s, char *errmsg)
{
    MDB_txn *txn;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "begin setup transaction in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        rc = mdb_dbi_open(txn, store_db_names[db], MDB_CREATE, &s->dbi[db]);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "open database %s in %s: %s", store_db_names[db],
                               s->dir, mdb_strerror(rc));
        }
    }
    rc = store_version_check(s, txn, errmsg);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "commit setup transaction in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    return 0;
}

/* Make the pool of reads and put every entry on the free list. */
static int store_pool_create(struct store *s, char *errmsg)
{
    s->pool = tdei_calloc(s->opts.max_readers, sizeof(*s->pool));
    if (s->pool == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "allocate %u read slots", s->opts.max_readers);
    }
    for (unsigned i = s->opts.max_readers; i > 0; i--) {
        struct store_read *r = &s->pool[i - 1];
        r->store = s;
        r->next = s->free_reads;
        s->free_reads = r;
    }
    return 0;
}

int store_open(struct store **out, const char *dir,
               const struct store_options *opts, char *errmsg)
{
    struct store_options defaults = store_options_default();
    struct store *s;
    int rc;

    TDEI_ASSERT(out != NULL);
    TDEI_ASSERT(dir != NULL);
    *out = NULL;
    errmsg[0] = '\0';

    s = tdei_calloc(1, sizeof(*s));
    if (s == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "open data dir %s: out of memory", dir);
    }
    s->lock_fd = -1;
    rc = store_options_check(&s->opts, opts != NULL ? opts : &defaults, errmsg);
    if (rc != 0) {
        goto err_after_alloc;
    }
    s->dir = tdei_strdup(dir);
    if (s->dir == NULL) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "open data dir %s: out of memory", dir);
        goto err_after_alloc;
    }
    rc = store_make_dir(dir, errmsg);
    if (rc != 0) {
        goto err_after_alloc;
    }
    rc = tdei_dir_lock(dir, STORE_LOCK_NAME, "data dir", &s->lock_fd, errmsg);
    if (rc != 0) {
        goto err_after_alloc;
    }
    rc = store_env_open(s, errmsg);
    if (rc != 0) {
        goto err_after_env;
    }
    rc = store_dbs_open(s, errmsg);
    if (rc != 0) {
        goto err_after_env;
    }
    rc = store_pool_create(s, errmsg);
    if (rc != 0) {
        goto err_after_env;
    }
    if (pthread_mutex_init(&s->write_mutex, NULL) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "open data dir %s: create mutex", dir);
        goto err_after_pool;
    }
    if (pthread_mutex_init(&s->read_mutex, NULL) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "open data dir %s: create mutex", dir);
        goto err_after_write_mutex;
    }
    if (pthread_cond_init(&s->read_cond, NULL) != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                         "open data dir %s: create condition", dir);
        goto err_after_read_mutex;
    }
    atomic_init(&s->broken, 0);
    atomic_init(&s->growths, 0);
    atomic_init(&s->commits, 0);
    *out = s;
    return 0;

err_after_read_mutex:
    (void)pthread_mutex_destroy(&s->read_mutex);
err_after_write_mutex:
    (void)pthread_mutex_destroy(&s->write_mutex);
err_after_pool:
    tdei_free(s->pool);
err_after_env:
    if (s->env != NULL) {
        mdb_env_close(s->env); /* also after a failed mdb_env_open */
    }
    (void)close(s->lock_fd); /* releases the lock */
err_after_alloc:
    tdei_free(s->dir);
    tdei_free(s);
    return rc;
}

void store_close(struct store *s)
{
    if (s == NULL) {
        return;
    }
    TDEI_ASSERT(s->readers_open == 0 && "store_close with reads open");
    TDEI_ASSERT(s->open_reads == NULL);
    for (unsigned i = 0; i < s->opts.max_readers; i++) {
        if (s->pool[i].txn != NULL) {
            mdb_txn_abort(s->pool[i].txn); /* frees its reader slot */
        }
    }
    mdb_env_close(s->env);
    (void)close(s->lock_fd); /* after the environment: releases the lock */
    (void)pthread_cond_destroy(&s->read_cond);
    (void)pthread_mutex_destroy(&s->read_mutex);
    (void)pthread_mutex_destroy(&s->write_mutex);
    tdei_free(s->pool);
    tdei_free(s->dir);
    tdei_free(s);
}

/* ---- batches ------------------------------------------------------------- */

int store_batch_create(struct store_batch **out, size_t size_max)
{
    struct store_batch *b;

    TDEI_ASSERT(out != NULL);
    b = tdei_calloc(1, sizeof(*b));
    *out = b;
    if (b == NULL) {
        return TDEI_NOMEM;
    }
    b->size_max = size_max;
    return 0;
}

void store_batch_destroy(struct store_batch *b)
{
    if (b == NULL) {
        return;
    }
    tdei_free(b->buf);
    tdei_free(b);
}

void store_batch_reset(struct store_batch *b)
{
    TDEI_ASSERT(b != NULL);
    b->len = 0;
    b->ops = 0;
    b->bytes = 0;
    b->err = 0;
    b->errmsg[0] = '\0';
}

size_t store_batch_ops(const struct store_batch *b) { return b->ops; }

size_t store_batch_bytes(const struct store_batch *b) { return b->bytes; }

const char *store_batch_errmsg(const struct store_batch *b)
{
    return b->errmsg;
}

/* Refuse an op: poison @b with @code and the formatted message. */
static int store_batch_refuse(struct store_batch *b, int code, const char *fmt,
                              ...) __attribute__((format(printf, 3, 4)));

static int store_batch_refuse(struct store_batch *b, int code, const char *fmt,
                              ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void)vsnprintf(b->errmsg, sizeof(b->errmsg), fmt, ap);
    va_end(ap);
    b->err = code;
    return code;
}

/* The size @db's layout requires of keys (@value 0) or values (@value 1),
 * or 0 when any size goes. */
static size_t store_layout_size(enum store_db db, int value)
{
    switch (db) {
    case STORE_DB_BLOCKS:
        return value ? 0 : STORE_HEIGHT_SIZE;
    case STORE_DB_BLOCK_IDS:
        return value ? STORE_HEIGHT_SIZE : STORE_ID_SIZE;
    case STORE_DB_TXS:
        return value ? STORE_TX_LOCATION_SIZE : STORE_ID_SIZE;
    case STORE_DB_RESULTS:
        return value ? 0 : STORE_TX_LOCATION_SIZE;
    default:
        return 0;
    }
}

/* Check one op against the limits and layouts; refuse it on failure. */
static int store_batch_check(struct store_batch *b, unsigned op,
                             enum store_db db, const uint8_t *key, size_t klen,
                             size_t vlen)
{
    const char *verb = op == STORE_OP_PUT ? "put" : "delete";
    const char *name = store_db_names[db];
    size_t want;

    if (klen == 0) {
        return store_batch_refuse(b, TDEI_INVAL,
                                  "batch %s %s: empty key; keys are 1-%u "
                                  "bytes",
                                  verb, name, STORE_KEY_SIZE_MAX);
    }
    if (klen > STORE_KEY_SIZE_MAX) {
        return store_batch_refuse(b, TDEI_TOOBIG,
                                  "batch %s %s: key of %zu bytes exceeds "
                                  "the limit of %u",
                                  verb, name, klen, STORE_KEY_SIZE_MAX);
    }
    if (vlen > STORE_VALUE_SIZE_MAX) {
        return store_batch_refuse(b, TDEI_TOOBIG,
                                  "batch %s %s: value of %zu bytes exceeds "
                                  "the limit of %" PRIu32,
                                  verb, name, vlen, STORE_VALUE_SIZE_MAX);
    }
    if (db == STORE_DB_META && klen == sizeof(STORE_VERSION_KEY) - 1 &&
        memcmp(key, STORE_VERSION_KEY, klen) == 0) {
        return store_batch_refuse(b, TDEI_INVAL,
                                  "batch %s meta: %s is reserved for the "
                                  "store itself",
                                  verb, STORE_VERSION_KEY);
    }
    want = store_layout_size(db, 0);
    if (want != 0 && klen != want) {
        return store_batch_refuse(b, TDEI_INVAL,
                                  "batch %s %s: key of %zu bytes; this "
                                  "database takes %zu-byte keys",
                                  verb, name, klen, want);
    }
    want = store_layout_size(db, 1);
    if (op == STORE_OP_PUT && want != 0 && vlen != want) {
        return store_batch_refuse(b, TDEI_INVAL,
                                  "batch put %s: value of %zu bytes; this "
                                  "database takes %zu-byte values",
                                  name, vlen, want);
    }
    return 0;
}

/* Make room for @need more bytes in @b, within its size_max. */
static int store_batch_reserve(struct store_batch *b, size_t need, unsigned op,
                               enum store_db db)
{
    const char *verb = op == STORE_OP_PUT ? "put" : "delete";
    size_t cap;
    uint8_t *buf;

    TDEI_ASSERT(b->len <= b->size_max);
    if (need > b->size_max - b->len) {
        return store_batch_refuse(b, TDEI_TOOBIG,
                                  "batch %s %s: op of %zu bytes would take "
                                  "the batch past its limit of %zu bytes",
                                  verb, store_db_names[db], need, b->size_max);
    }
    if (need <= b->cap - b->len) {
        return 0;
    }
    /* Double from 4 KiB, capped at size_max: at most 64 reallocations. */
    cap = b->cap != 0 ? b->cap : 4096u;
    cap = cap < b->size_max ? cap : b->size_max;
    while (cap - b->len < need) {
        cap = cap > b->size_max / 2 ? b->size_max : cap * 2;
    }
    buf = tdei_realloc(b->buf, cap);
    if (buf == NULL) {
        return store_batch_refuse(b, TDEI_NOMEM,
                                  "batch %s %s: out of memory growing the "
                                  "batch to %zu bytes",
                                  verb, store_db_names[db], cap);
    }
    b->buf = buf;
    b->cap = cap;
    return 0;
}

/* Check and append one op. */
static int store_batch_append(struct store_batch *b, unsigned op,
                              enum store_db db, const uint8_t *key, size_t klen,
                              const uint8_t *val, size_t vlen)
{
    size_t need = STORE_OP_HEADER_SIZE + klen + vlen;
    uint8_t *p;
    int rc;

    TDEI_ASSERT((unsigned)db < STORE_DB_COUNT);
    TDEI_ASSERT(key != NULL || klen == 0);
    TDEI_ASSERT(val != NULL || vlen == 0);
    if (b->err != 0) {
        return b->err; /* keep the first error and its message */
    }
    rc = store_batch_check(b, op, db, key, klen, vlen);
    if (rc == 0) {
        rc = store_batch_reserve(b, need, op, db);
    }
    if (rc != 0) {
        return rc;
    }
    p = b->buf + b->len;
    p[0] = (uint8_t)db;
    p[1] = (uint8_t)op;
    p[2] = (uint8_t)(klen >> 8);
    p[3] = (uint8_t)klen;
    store_u32_encode(p + 4, (uint32_t)vlen);
    memcpy(p + STORE_OP_HEADER_SIZE, key, klen);
    if (vlen != 0) {
        memcpy(p + STORE_OP_HEADER_SIZE + klen, val, vlen);
    }
    b->len += need;
    b->ops++;
    b->bytes += klen + vlen;
    TDEI_ASSERT(b->len <= b->cap && b->len <= b->size_max);
    return 0;
}

int store_batch_put(struct store_batch *b, enum store_db db, const uint8_t *key,
                    size_t klen, const uint8_t *val, size_t vlen)
{
    TDEI_ASSERT(b != NULL);
    return store_batch_append(b, STORE_OP_PUT, db, key, klen, val, vlen);
}

int store_batch_del(struct store_batch *b, enum store_db db, const uint8_t *key,
                    size_t klen)
{
    TDEI_ASSERT(b != NULL);
    return store_batch_append(b, STORE_OP_DEL, db, key, klen, NULL, 0);
}

int store_meta_put_u64(struct store_batch *b, const char *name, uint64_t value)
{
    uint8_t buf[8];

    TDEI_ASSERT(b != NULL && name != NULL);
    store_u64_encode(buf, value);
    return store_batch_append(b, STORE_OP_PUT, STORE_DB_META,
                              (const uint8_t *)name, strlen(name), buf,
                              sizeof(buf));
}

/* ---- commit and growth --------------------------------------------------- */

/* Assert that the calling thread holds no read of @s. */
static void store_assert_no_read_held(struct store *s)
{
    uint64_t self = store_thread_id();
    int held = 0;

    (void)pthread_mutex_lock(&s->read_mutex);
    for (struct store_read *r = s->open_reads; r != NULL; r = r->next) {
        if (r->owner == self) {
            held = 1;
        }
    }
    (void)pthread_mutex_unlock(&s->read_mutex);
    TDEI_ASSERT(!held && "this thread holds a read of the store");
}

/* The check of store_commit_checked: the key it reads and the function. */
struct store_guard
{
    enum store_db db;
    const uint8_t *key;
    size_t klen;
    void *arg;
    store_commit_check_fn check;
};

/* Run @g's check on the current value of its key within @txn.
 * Out: @mdb_rc: the LMDB code of a failed read (0 otherwise). */
static int store_guard_run(struct store *s, MDB_txn *txn,
                           const struct store_guard *g, int *mdb_rc,
                           char *errmsg)
{
    MDB_val key = {.mv_size = g->klen, .mv_data = (void *)g->key};
    MDB_val val = {0};
    int rc = mdb_get(txn, s->dbi[g->db], &key, &val);

    *mdb_rc = 0;
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *mdb_rc = rc;
        store_note_failure(s, rc);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "commit: read the checked key in %s: %s",
                           store_db_names[g->db], mdb_strerror(rc));
    }
    if (rc == MDB_NOTFOUND) {
        return g->check(g->arg, 0, NULL, 0, errmsg);
    }
    return g->check(g->arg, 1, val.mv_data, val.mv_size, errmsg);
}

/* Apply @b in one write transaction and commit it; with @g (may be NULL),
 * only when its check accepts the value it reads in that transaction.
 * Out: @mdb_rc: the LMDB code of the failure (0 on success, and when the
 * check refused). */
static int store_commit_once(struct store *s, const struct store_batch *b,
                             const struct store_guard *g, int *mdb_rc,
                             char *errmsg)
{
    MDB_txn *txn;
    size_t pos = 0;
    size_t index = 0;
    int rc;

    rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc != 0) {
        *mdb_rc = rc;
        store_note_failure(s, rc);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "commit: begin write transaction: %s",
                           mdb_strerror(rc));
    }
    if (g != NULL) {
        rc = store_guard_run(s, txn, g, mdb_rc, errmsg);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return rc;
        }
    }
    while (pos < b->len) {
        const uint8_t *p = b->buf + pos;
        unsigned db = p[0];
        unsigned op = p[1];
        MDB_val key = {.mv_size = ((size_t)p[2] << 8) | p[3],
                       .mv_data = (void *)(p + STORE_OP_HEADER_SIZE)};
        MDB_val val = {.mv_size = store_u32_decode(p + 4)};

        TDEI_ASSERT(db < STORE_DB_COUNT);
        val.mv_data = (void *)(p + STORE_OP_HEADER_SIZE + key.mv_size);
        if (op == STORE_OP_PUT) {
            rc = mdb_put(txn, s->dbi[db], &key, &val, 0);
        } else {
            TDEI_ASSERT(op == STORE_OP_DEL);
            rc = mdb_del(txn, s->dbi[db], &key, NULL);
            if (rc == MDB_NOTFOUND) {
                rc = 0; /* deleting a missing key is not an error */
            }
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            *mdb_rc = rc;
            store_note_failure(s, rc);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "commit: op %zu %s %s: %s", index,
                               op == STORE_OP_PUT ? "put" : "delete",
                               store_db_names[db], mdb_strerror(rc));
        }
        pos += STORE_OP_HEADER_SIZE + key.mv_size + val.mv_size;
        index++;
    }
    TDEI_ASSERT(pos == b->len && index == b->ops);
    rc = mdb_txn_commit(txn); /* frees txn, also on failure */
    if (rc != 0) {
        *mdb_rc = rc;
        store_note_failure(s, rc);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "commit: write %zu ops to disk: %s", b->ops,
                           mdb_strerror(rc));
    }
    *mdb_rc = 0;
    return 0;
}

/* Grow the map of @s to @size bytes. The caller holds write_mutex and has
 * no write transaction open. Waits for every read to end and keeps new
 * ones out until the remap is done. */
static int store_grow(struct store *s, uint64_t size, char *errmsg)
{
    MDB_envinfo info;
    uint64_t old = s->map_size;
    int rc;

    (void)pthread_mutex_lock(&s->read_mutex);
    TDEI_ASSERT(!s->growing);
    s->growing = 1;
    while (s->readers_open > 0) {
        (void)pthread_cond_wait(&s->read_cond, &s->read_mutex);
    }
    rc = mdb_env_set_mapsize(s->env, size);
    if (rc != 0) {
        /* The old map is gone; try to map the old size again. */
        if (mdb_env_set_mapsize(s->env, old) != 0) {
            atomic_store(&s->broken, 1);
        }
    } else {
        info.me_mapsize = size;
        (void)mdb_env_info(s->env, &info); /* fails only for a NULL env */
        s->map_size = info.me_mapsize;
        atomic_fetch_add(&s->growths, 1);
    }
    s->growing = 0;
    (void)pthread_cond_broadcast(&s->read_cond);
    (void)pthread_mutex_unlock(&s->read_mutex);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "commit: grow map of %s from %" PRIu64 " to %" PRIu64
                           " bytes: %s",
                           s->dir, old, size, mdb_strerror(rc));
    }
    TDEI_ASSERT(s->map_size > old);
    return 0;
}

/* store_commit and store_commit_checked (@g not NULL). */
static int store_commit_guarded(struct store *s, const struct store_batch *b,
                                const struct store_guard *g, char *errmsg)
{
    int mdb_rc = 0;
    int rc;

    TDEI_ASSERT(s != NULL && b != NULL);
    errmsg[0] = '\0';
    store_assert_no_read_held(s);
    if (b->err != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, b->err,
                           "commit: batch refused, nothing written: %s",
                           b->errmsg);
    }
    if (b->ops == 0 && g == NULL) {
        return 0;
    }
    (void)pthread_mutex_lock(&s->write_mutex);
    if (atomic_load(&s->broken)) {
        rc = store_broken_error(s, errmsg);
        goto out_unlock;
    }
    /* Each pass either commits, fails for good, or grows the map by at
     * least one page toward map_size_max: at most
     * (map_size_max - map_size) / map_size_growth + 1 passes. */
    for (;;) {
        uint64_t size;
        rc = store_commit_once(s, b, g, &mdb_rc, errmsg);
        if (mdb_rc != MDB_MAP_FULL) {
            break;
        }
        if (s->map_size >= s->opts.map_size_max) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOSPACE,
                             "ledger map is full at %" PRIu64
                             " bytes; raise store.map_size_max",
                             s->map_size);
            break;
        }
        size = s->map_size + s->opts.map_size_growth;
        if (size > s->opts.map_size_max) {
            size = s->opts.map_size_max;
        }
        rc = store_grow(s, size, errmsg);
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0) {
        atomic_fetch_add(&s->commits, 1);
    }
out_unlock:
    (void)pthread_mutex_unlock(&s->write_mutex);
    return rc;
}

int store_commit(struct store *s, const struct store_batch *b, char *errmsg)
{
    return store_commit_guarded(s, b, NULL, errmsg);
}

int store_commit_checked(struct store *s, const struct store_batch *b,
                         enum store_db db, const uint8_t *key, size_t klen,
                         char *errmsg, void *arg, store_commit_check_fn check)
{
    struct store_guard g = {
        .db = db, .key = key, .klen = klen, .arg = arg, .check = check};

    TDEI_ASSERT((unsigned)db < STORE_DB_COUNT);
    TDEI_ASSERT(klen >= 1 && klen <= STORE_KEY_SIZE_MAX);
    return store_commit_guarded(s, b, &g, errmsg);
}

/* ---- reads --------------------------------------------------------------- */

/* Return @r to the pool. The caller holds read_mutex. */
static void store_read_release(struct store *s, struct store_read *r)
{
    if (r->prev != NULL) {
        r->prev->next = r->next;
    } else {
        s->open_reads = r->next;
    }
    if (r->next != NULL) {
        r->next->prev = r->prev;
    }
    r->open = 0;
    r->prev = NULL;
    r->next = s->free_reads;
    s->free_reads = r;
    TDEI_ASSERT(s->readers_open > 0);
    s->readers_open--;
    if (s->readers_open == 0) {
        (void)pthread_cond_broadcast(&s->read_cond);
    }
}

int store_read_begin(struct store *s, struct store_read **out, char *errmsg)
{
    uint64_t self = store_thread_id();
    struct store_read *r;
    int rc;

    TDEI_ASSERT(s != NULL && out != NULL);
    *out = NULL;
    errmsg[0] = '\0';
    if (atomic_load(&s->broken)) {
        return store_broken_error(s, errmsg);
    }
    (void)pthread_mutex_lock(&s->read_mutex);
    for (r = s->open_reads; r != NULL; r = r->next) {
        TDEI_ASSERT(r->owner != self &&
                    "this thread holds a read of the store already");
    }
    while (s->growing) {
        (void)pthread_cond_wait(&s->read_cond, &s->read_mutex);
    }
    r = s->free_reads;
    if (r == NULL) {
        (void)pthread_mutex_unlock(&s->read_mutex);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BUSY,
                           "begin read of %s: all %u reads are in use; end "
                           "some or raise store.max_readers",
                           s->dir, s->opts.max_readers);
    }
    s->free_reads = r->next;
    r->prev = NULL;
    r->next = s->open_reads;
    if (s->open_reads != NULL) {
        s->open_reads->prev = r;
    }
    s->open_reads = r;
    r->owner = self;
    r->open = 1;
    r->iters_open = 0;
    r->errmsg[0] = '\0';
    s->readers_open++;
    (void)pthread_mutex_unlock(&s->read_mutex);

    if (r->txn == NULL) {
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn);
        if (rc != 0) {
            r->txn = NULL;
        }
    } else {
        rc = mdb_txn_renew(r->txn);
        if (rc != 0) {
            mdb_txn_abort(r->txn);
            r->txn = NULL;
        }
    }
    if (rc != 0) {
        store_note_failure(s, rc);
        (void)pthread_mutex_lock(&s->read_mutex);
        store_read_release(s, r);
        (void)pthread_mutex_unlock(&s->read_mutex);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "begin read of %s: %s", s->dir, mdb_strerror(rc));
    }
    *out = r;
    return 0;
}

void store_read_end(struct store_read *r)
{
    struct store *s;

    if (r == NULL) {
        return;
    }
    s = r->store;
    TDEI_ASSERT(r->open);
    TDEI_ASSERT(r->iters_open == 0 && "iterator still open at read end");
    mdb_txn_reset(r->txn); /* keeps the reader slot for the next use */
    (void)pthread_mutex_lock(&s->read_mutex);
    store_read_release(s, r);
    (void)pthread_mutex_unlock(&s->read_mutex);
}

const char *store_read_errmsg(const struct store_read *r) { return r->errmsg; }

int store_get(struct store_read *r, enum store_db db, const uint8_t *key,
              size_t klen, const uint8_t **val, size_t *vlen)
{
    MDB_val k;
    MDB_val v;
    int rc;

    TDEI_ASSERT(r != NULL && r->open);
    TDEI_ASSERT((unsigned)db < STORE_DB_COUNT);
    *val = NULL;
    *vlen = 0;
    if (klen == 0 || klen > STORE_KEY_SIZE_MAX) {
        return TDEI_NOTFOUND; /* such a key cannot be stored */
    }
    k.mv_size = klen;
    k.mv_data = (void *)key;
    rc = mdb_get(r->txn, r->store->dbi[db], &k, &v);
    if (rc == MDB_NOTFOUND) {
        return TDEI_NOTFOUND;
    }
    if (rc != 0) {
        store_note_failure(r->store, rc);
        return tdei_errorf(r->errmsg, sizeof(r->errmsg), store_code(rc),
                           "get from %s: %s", store_db_names[db],
                           mdb_strerror(rc));
    }
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

int store_get_copy(struct store_read *r, enum store_db db, const uint8_t *key,
                   size_t klen, uint8_t *buf, size_t cap, size_t *len)
{
    const uint8_t *val;
    size_t vlen;
    int rc;

    *len = 0;
    rc = store_get(r, db, key, klen, &val, &vlen);
    if (rc != 0) {
        return rc;
    }
    *len = vlen;
    if (vlen > cap) {
        return tdei_errorf(r->errmsg, sizeof(r->errmsg), TDEI_TOOBIG,
                           "get from %s: value of %zu bytes does not fit "
                           "a buffer of %zu",
                           store_db_names[db], vlen, cap);
    }
    if (vlen != 0) {
        memcpy(buf, val, vlen);
    }
    return 0;
}

int store_meta_get_u64(struct store_read *r, const char *name, uint64_t *value)
{
    const uint8_t *val;
    size_t vlen;
    int rc;

    TDEI_ASSERT(name != NULL);
    *value = 0;
    rc = store_get(r, STORE_DB_META, (const uint8_t *)name, strlen(name), &val,
                   &vlen);
    if (rc != 0) {
        return rc;
    }
    if (vlen != 8) {
        return tdei_errorf(r->errmsg, sizeof(r->errmsg), TDEI_CORRUPT,
                           "meta %s has %zu bytes, not 8", name, vlen);
    }
    *value = store_u64_decode(val);
    return 0;
}

int store_stats(struct store_read *r, struct store_stats *out)
{
    struct store *s;
    MDB_envinfo info;
    MDB_stat st;
    int rc;

    TDEI_ASSERT(r != NULL && r->open);
    s = r->store;
    memset(out, 0, sizeof(*out));
    rc = mdb_env_info(s->env, &info);
    if (rc == 0) {
        rc = mdb_env_stat(s->env, &st);
    }
    if (rc != 0) {
        return tdei_errorf(r->errmsg, sizeof(r->errmsg), store_code(rc),
                           "stats of %s: %s", s->dir, mdb_strerror(rc));
    }
    out->map_size = info.me_mapsize;
    out->map_size_max = s->opts.map_size_max;
    out->page_size = st.ms_psize;
    out->pages_used = (uint64_t)info.me_last_pgno + 1;
    out->growths = atomic_load(&s->growths);
    out->commits = atomic_load(&s->commits);
    (void)pthread_mutex_lock(&s->read_mutex);
    out->readers_open = s->readers_open;
    (void)pthread_mutex_unlock(&s->read_mutex);
    for (int db = 0; db < STORE_DB_COUNT; db++) {
        rc = mdb_stat(r->txn, s->dbi[db], &st);
        if (rc != 0) {
            memset(out, 0, sizeof(*out));
            return tdei_errorf(r->errmsg, sizeof(r->errmsg), store_code(rc),
                               "count records of %s: %s", store_db_names[db],
                               mdb_strerror(rc));
        }
        out->entries[db] = st.ms_entries;
    }
    return 0;
}

/* ---- iteration ----------------------------------------------------------- */

/* Where @start lies relative to the keys with @prefix: -1 below all of
 * them, 0 among them (it has the prefix), 1 above all of them. */
static int store_start_place(const uint8_t *start, size_t slen,
                             const uint8_t *prefix, size_t plen)
{
    size_t n = slen < plen ? slen : plen;
    int c = n != 0 ? memcmp(start, prefix, n) : 0;

    if (c != 0) {
        return c < 0 ? -1 : 1;
    }
    return slen >= plen ? 0 : -1; /* a proper prefix of @prefix is below */
}

/* Position the cursor of @it for a forward walk; @seek may be empty. */
static int store_iter_seek_forward(struct store_iter *it, const uint8_t *seek,
                                   size_t seek_len, MDB_val *key)
{
    MDB_val val;

    if (seek_len == 0) {
        return mdb_cursor_get(it->cursor, key, &val, MDB_FIRST);
    }
    key->mv_size = seek_len;
    key->mv_data = (void *)seek;
    return mdb_cursor_get(it->cursor, key, &val, MDB_SET_RANGE);
}

/* Position the cursor of @it on the last key <= @bound (@inclusive) or
 * < @bound; @bound NULL means the last key of the database. */
static int store_iter_seek_reverse(struct store_iter *it, const uint8_t *bound,
                                   size_t bound_len, int inclusive,
                                   MDB_val *key)
{
    MDB_val val;
    int rc;

    if (bound == NULL) {
        return mdb_cursor_get(it->cursor, key, &val, MDB_LAST);
    }
    key->mv_size = bound_len;
    key->mv_data = (void *)bound;
    rc = mdb_cursor_get(it->cursor, key, &val, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) {
        return mdb_cursor_get(it->cursor, key, &val, MDB_LAST);
    }
    if (rc != 0) {
        return rc;
    }
    if (inclusive && key->mv_size == bound_len &&
        memcmp(key->mv_data, bound, bound_len) == 0) {
        return 0;
    }
    return mdb_cursor_get(it->cursor, key, &val, MDB_PREV);
}

/* Position the cursor of @it (prefix and direction set) on its first key,
 * given @start (NULL: none). Returns an LMDB code: 0 (on a key, which may
 * lie past the prefix range) or MDB_NOTFOUND (no key to return). */
static int store_iter_position(struct store_iter *it, const uint8_t *start,
                               size_t slen, MDB_val *key)
{
    uint8_t succ[STORE_KEY_SIZE_MAX];
    size_t succ_len = it->prefix_len;
    int place = 1; /* no start: as if above the range */

    if (start != NULL) {
        place = store_start_place(start, slen, it->prefix, it->prefix_len);
    }
    if (!it->reverse) {
        if (start != NULL && place > 0) {
            return MDB_NOTFOUND;
        }
        if (start != NULL && place == 0) {
            return store_iter_seek_forward(it, start, slen, key);
        }
        return store_iter_seek_forward(it, it->prefix, it->prefix_len, key);
    }
    if (start != NULL && (place < 0 || (place == 0 && slen == 0))) {
        return MDB_NOTFOUND; /* below the range; nothing is <= "" */
    }
    if (start != NULL && place == 0) {
        return store_iter_seek_reverse(it, start, slen, 1, key);
    }
    /* Just past the prefix range: the prefix with its trailing 0xff bytes
     * dropped and its last byte incremented; none (the end) if empty. */
    memcpy(succ, it->prefix, succ_len);
    while (succ_len > 0 && succ[succ_len - 1] == 0xffu) {
        succ_len--;
    }
    if (succ_len == 0) {
        return store_iter_seek_reverse(it, NULL, 0, 0, key);
    }
    succ[succ_len - 1]++;
    return store_iter_seek_reverse(it, succ, succ_len, 0, key);
}

int store_iter_init(struct store_iter *it, struct store_read *r,
                    enum store_db db, const uint8_t *prefix, size_t plen,
                    const uint8_t *start, size_t slen, int reverse)
{
    MDB_cursor *cursor;
    MDB_val key = {0};
    int rc;

    TDEI_ASSERT(r != NULL && r->open);
    TDEI_ASSERT((unsigned)db < STORE_DB_COUNT);
    TDEI_ASSERT(plen <= STORE_KEY_SIZE_MAX && slen <= STORE_KEY_SIZE_MAX);
    TDEI_ASSERT(prefix != NULL || plen == 0);
    memset(it, 0, sizeof(*it));
    rc = mdb_cursor_open(r->txn, r->store->dbi[db], &cursor);
    if (rc != 0) {
        store_note_failure(r->store, rc);
        return tdei_errorf(r->errmsg, sizeof(r->errmsg), store_code(rc),
                           "iterate %s: open cursor: %s", store_db_names[db],
                           mdb_strerror(rc));
    }
    it->read = r;
    it->cursor = cursor;
    if (plen != 0) {
        memcpy(it->prefix, prefix, plen);
    }
    it->prefix_len = plen;
    it->reverse = reverse != 0;
    r->iters_open++;
    rc = store_iter_position(it, start, slen, &key);
    if (rc == MDB_NOTFOUND || (rc == 0 && !store_iter_has_prefix(it, &key))) {
        it->state = STORE_ITER_DONE;
        return 0;
    }
    if (rc != 0) {
        store_note_failure(r->store, rc);
        store_iter_close(it);
        return tdei_errorf(r->errmsg, sizeof(r->errmsg), store_code(rc),
                           "iterate %s: position cursor: %s",
                           store_db_names[db], mdb_strerror(rc));
    }
    it->state = STORE_ITER_FRESH;
    return 0;
}

int store_iter_next(struct store_iter *it, const uint8_t **key, size_t *klen,
                    const uint8_t **val, size_t *vlen)
{
    MDB_val k;
    MDB_val v;
    int rc;

    TDEI_ASSERT(it->read != NULL && it->cursor != NULL);
    *key = NULL;
    *klen = 0;
    if (val != NULL) {
        *val = NULL;
    }
    if (vlen != NULL) {
        *vlen = 0;
    }
    if (it->state == STORE_ITER_DONE) {
        return TDEI_NOTFOUND;
    }
    if (it->state == STORE_ITER_FRESH) {
        rc = mdb_cursor_get(it->cursor, &k, &v, MDB_GET_CURRENT);
    } else {
        rc = mdb_cursor_get(it->cursor, &k, &v,
                            it->reverse ? MDB_PREV : MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND || (rc == 0 && !store_iter_has_prefix(it, &k))) {
        it->state = STORE_ITER_DONE;
        return TDEI_NOTFOUND;
    }
    if (rc != 0) {
        store_note_failure(it->read->store, rc);
        it->state = STORE_ITER_DONE;
        return tdei_errorf(it->read->errmsg, sizeof(it->read->errmsg),
                           store_code(rc), "iterate: step cursor: %s",
                           mdb_strerror(rc));
    }
    it->state = STORE_ITER_ACTIVE;
    *key = k.mv_data;
    *klen = k.mv_size;
    if (val != NULL) {
        *val = v.mv_data;
    }
    if (vlen != NULL) {
        *vlen = v.mv_size;
    }
    return 0;
}

void store_iter_close(struct store_iter *it)
{
    TDEI_ASSERT(it->read != NULL && it->cursor != NULL);
    TDEI_ASSERT(it->read->iters_open > 0);
    mdb_cursor_close(it->cursor);
    it->read->iters_open--;
    it->cursor = NULL;
    it->read = NULL;
}

int store_meta_version(MDB_txn *txn, MDB_dbi dbi, const char *key,
                       uint64_t version)
{
    uint8_t buf[8];
    MDB_val k = {.mv_size = strlen(key), .mv_data = (void *)key};
    MDB_val v;
    int rc = mdb_get(txn, dbi, &k, &v);

    if (rc == MDB_NOTFOUND) {
        store_u64_encode(buf, version);
        v.mv_size = sizeof(buf);
        v.mv_data = buf;
        return mdb_put(txn, dbi, &k, &v, 0);
    }
    if (rc != 0) {
        return rc;
    }
    return v.mv_size == 8 && store_u64_decode(v.mv_data) == version
               ? 0
               : TDEI_VERSION;
}
