/* The stream record store: see rstore.h for the databases and records.
 *
 * Writes go through rs_write, which runs a function inside one LMDB write
 * transaction and commits it (synced). The map has a fixed size, so no
 * call ever needs every transaction of the process closed. */
#include "stream/rstore.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/hex.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RS_LOCK_NAME "LOCK"
#define RS_VERSION_KEY "stream.version"
#define RS_PATH_MAX 4096u
#define RS_SID_MAX (1u + STREAM_ID_MAX)
#define RS_KEY_MAX (RS_SID_MAX + 8u)
#define RS_XKEY_SIZE (32u + 8u)
/* Batch header: version, state, 6 u64, root, key, charge count. */
#define RS_BATCH_FIXED (2u + 6u * 8u + 32u + 32u + 1u)
#define RS_CHARGE_SIZE (32u + 8u)
#define RS_BATCH_MAX (RS_BATCH_FIXED + RSTORE_CHARGES_MAX * RS_CHARGE_SIZE)
/* Expected batch: version, 6 u64, root, then two u8-prefixed ids. */
#define RS_EXPECT_FIXED (1u + 6u * 8u + 32u)
#define RS_EXPECT_MAX                                                          \
    (RS_EXPECT_FIXED + 1u + STREAM_ID_MAX + 1u + TDEI_MEMBER_ID_MAX)
/* Counters: version, 10 u64, u32 code, u16 length, text. */
#define RS_STATS_FIXED (1u + 10u * 8u + 4u + 2u)
#define RS_STATS_MAX (RS_STATS_FIXED + RSTORE_REFUSAL_MAX)
/* A stored record: version, ts, height, stored_ms, then the data. */
#define RS_RECORD_FIXED (1u + 3u * 8u)

struct rstore
{
    char *dir;       /* the environment's directory */
    int lock_fd;     /* DIR/LOCK, flocked */
    MDB_env *env;    /* the environment */
    MDB_dbi batches; /* SID || seq_first -> batch header */
    MDB_dbi bdata;   /* SID || seq_first -> sealed records */
    MDB_dbi expect;  /* xid || seq_first -> expected batch */
    MDB_dbi records; /* SID || seq -> received record */
    MDB_dbi streams; /* stream -> counters */
    MDB_dbi meta;    /* stream.version */
    MDB_dbi queue;   /* SID || qseq -> a record not cut yet */
};

/* ---- bytes --------------------------------------------------------------- */

static void put64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

static uint64_t get64(const uint8_t *in)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

/* SID || u64 BE seq into @out; returns its length. */
static size_t sid_key(uint8_t out[RS_KEY_MAX], const char *stream, uint64_t seq)
{
    size_t len = strlen(stream);

    TDEI_ASSERT(len >= 1 && len <= STREAM_ID_MAX);
    out[0] = (uint8_t)len;
    memcpy(out + 1, stream, len);
    put64(out + 1 + len, seq);
    return 1 + len + 8;
}

static void xkey(uint8_t out[RS_XKEY_SIZE], const uint8_t xid[32], uint64_t seq)
{
    memcpy(out, xid, 32);
    put64(out + 32, seq);
}

static int id_ok(const char *id, size_t max)
{
    size_t len = strlen(id);

    return len >= 1 && len <= max;
}

static int mdb_fail(char *errmsg, int rc, const char *what, const char *dir)
{
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                       rc == MDB_MAP_FULL ? TDEI_NOSPACE : store_code(rc),
                       "%s in %s: %s%s", what, dir, mdb_strerror(rc),
                       rc == MDB_MAP_FULL ? " (the stream store is full at "
                                            "64 GiB; remove old data)"
                                          : "");
}

/* ---- records of the databases -------------------------------------------- */

static size_t batch_encode(uint8_t out[RS_BATCH_MAX],
                           const struct rstore_batch *b)
{
    uint8_t *p = out;

    TDEI_ASSERT(b->n_charges <= RSTORE_CHARGES_MAX);
    *p++ = 1;
    *p++ = (uint8_t)b->state;
    put64(p, b->count);
    put64(p + 8, b->first_ts);
    put64(p + 16, b->last_ts);
    put64(p + 24, b->created_height);
    put64(p + 32, b->height);
    put64(p + 40, b->applied_ms);
    p += 48;
    memcpy(p, b->root, 32);
    memcpy(p + 32, b->key, 32);
    p += 64;
    *p++ = (uint8_t)b->n_charges;
    for (size_t i = 0; i < b->n_charges; i++) {
        memcpy(p, b->charges[i].xid, 32);
        put64(p + 32, b->charges[i].paid);
        p += RS_CHARGE_SIZE;
    }
    return (size_t)(p - out);
}

static int batch_decode(struct rstore_batch *b, const char *stream,
                        uint64_t seq_first, const uint8_t *v, size_t len,
                        char *errmsg)
{
    size_t n;

    memset(b, 0, sizeof(*b));
    if (len < RS_BATCH_FIXED || v[0] != 1 ||
        (v[1] != RSTORE_PENDING && v[1] != RSTORE_APPLIED)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "batch %" PRIu64 " of stream %s does not decode",
                           seq_first, stream);
    }
    n = v[RS_BATCH_FIXED - 1];
    if (n > RSTORE_CHARGES_MAX || len != RS_BATCH_FIXED + n * RS_CHARGE_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "batch %" PRIu64 " of stream %s has a damaged "
                           "charge list",
                           seq_first, stream);
    }
    (void)snprintf(b->stream, sizeof(b->stream), "%s", stream);
    b->seq_first = seq_first;
    b->state = (enum rstore_batch_state)v[1];
    b->count = get64(v + 2);
    b->first_ts = get64(v + 10);
    b->last_ts = get64(v + 18);
    b->created_height = get64(v + 26);
    b->height = get64(v + 34);
    b->applied_ms = get64(v + 42);
    memcpy(b->root, v + 50, 32);
    memcpy(b->key, v + 82, 32);
    b->n_charges = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *c = v + RS_BATCH_FIXED + i * RS_CHARGE_SIZE;
        memcpy(b->charges[i].xid, c, 32);
        b->charges[i].paid = get64(c + 32);
    }
    return 0;
}

static size_t expect_encode(uint8_t out[RS_EXPECT_MAX],
                            const struct rstore_expect *e)
{
    size_t slen = strlen(e->stream);
    size_t olen = strlen(e->owner);
    uint8_t *p = out;

    *p++ = 1;
    put64(p, e->seq_first);
    put64(p + 8, e->count);
    put64(p + 16, e->paid);
    put64(p + 24, e->first_ts);
    put64(p + 32, e->last_ts);
    put64(p + 40, e->height);
    p += 48;
    memcpy(p, e->root, 32);
    p += 32;
    *p++ = (uint8_t)slen;
    memcpy(p, e->stream, slen);
    p += slen;
    *p++ = (uint8_t)olen;
    memcpy(p, e->owner, olen);
    p += olen;
    return (size_t)(p - out);
}

static int expect_decode(struct rstore_expect *e, const uint8_t xid[32],
                         const uint8_t *v, size_t len, char *errmsg)
{
    size_t slen;
    size_t olen;

    memset(e, 0, sizeof(*e));
    if (len < RS_EXPECT_FIXED + 2 || v[0] != 1) {
        goto corrupt;
    }
    slen = v[RS_EXPECT_FIXED];
    if (slen < 1 || slen > STREAM_ID_MAX ||
        len < RS_EXPECT_FIXED + 1 + slen + 1) {
        goto corrupt;
    }
    olen = v[RS_EXPECT_FIXED + 1 + slen];
    if (olen < 1 || olen > TDEI_MEMBER_ID_MAX ||
        len != RS_EXPECT_FIXED + 2 + slen + olen) {
        goto corrupt;
    }
    memcpy(e->xid, xid, 32);
    e->seq_first = get64(v + 1);
    e->count = get64(v + 9);
    e->paid = get64(v + 17);
    e->first_ts = get64(v + 25);
    e->last_ts = get64(v + 33);
    e->height = get64(v + 41);
    memcpy(e->root, v + 49, 32);
    memcpy(e->stream, v + RS_EXPECT_FIXED + 1, slen);
    memcpy(e->owner, v + RS_EXPECT_FIXED + 2 + slen, olen);
    if (e->paid > e->count) {
        goto corrupt;
    }
    return 0;
corrupt:
    memset(e, 0, sizeof(*e));
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                       "an expected stream batch record does not decode");
}

static size_t stats_encode(uint8_t out[RS_STATS_MAX],
                           const struct rstore_stats *st)
{
    size_t tlen = strlen(st->last_refusal);
    const uint64_t v[10] = {st->appended_records, st->appended_batches,
                            st->refused_records,  st->refused_batches,
                            st->received_records, st->bad_batches,
                            (uint64_t)st->held,   st->held_from,
                            st->next_seq,         st->last_ts};
    uint8_t *p = out;

    TDEI_ASSERT(tlen <= RSTORE_REFUSAL_MAX);
    *p++ = 1;
    for (size_t i = 0; i < 10; i++) {
        put64(p, v[i]);
        p += 8;
    }
    for (int i = 3; i >= 0; i--) {
        p[3 - i] = (uint8_t)(st->last_refusal_code >> (8 * i));
    }
    p += 4;
    p[0] = (uint8_t)(tlen >> 8);
    p[1] = (uint8_t)tlen;
    p += 2;
    memcpy(p, st->last_refusal, tlen);
    return (size_t)(p - out) + tlen;
}

static int stats_decode(struct rstore_stats *st, const char *stream,
                        const uint8_t *v, size_t len, char *errmsg)
{
    uint64_t u[10];
    size_t tlen;
    const uint8_t *p;

    memset(st, 0, sizeof(*st));
    if (len < RS_STATS_FIXED || v[0] != 1) {
        goto corrupt;
    }
    p = v + 1;
    for (size_t i = 0; i < 10; i++) {
        u[i] = get64(p);
        p += 8;
    }
    tlen = ((size_t)p[4] << 8) | p[5];
    if (tlen > RSTORE_REFUSAL_MAX || len != RS_STATS_FIXED + tlen || u[6] > 1) {
        goto corrupt;
    }
    st->appended_records = u[0];
    st->appended_batches = u[1];
    st->refused_records = u[2];
    st->refused_batches = u[3];
    st->received_records = u[4];
    st->bad_batches = u[5];
    st->held = (int)u[6];
    st->held_from = u[7];
    st->next_seq = u[8];
    st->last_ts = u[9];
    st->last_refusal_code = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                            ((uint32_t)p[2] << 8) | p[3];
    memcpy(st->last_refusal, p + 6, tlen);
    st->last_refusal[tlen] = '\0';
    return 0;
corrupt:
    memset(st, 0, sizeof(*st));
    return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                       "the counters of stream %s do not decode", stream);
}

/* ---- transactions -------------------------------------------------------- */

typedef int (*rs_write_fn)(struct rstore *s, MDB_txn *txn, void *arg,
                           char *errmsg);

static int rs_write(struct rstore *s, rs_write_fn fn, void *arg, char *errmsg)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

    if (rc != 0) {
        return mdb_fail(errmsg, rc, "begin write", s->dir);
    }
    rc = fn(s, txn, arg, errmsg);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return mdb_fail(errmsg, rc, "commit", s->dir);
    }
    return 0;
}

static int rs_read_begin(struct rstore *s, MDB_txn **txn, char *errmsg)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);

    if (rc != 0) {
        *txn = NULL;
        return mdb_fail(errmsg, rc, "begin read", s->dir);
    }
    return 0;
}

static int rs_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
                  const uint8_t *val, size_t vlen, const char *what,
                  const char *dir, char *errmsg)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    int rc = mdb_put(txn, dbi, &k, &v, 0);

    return rc == 0 ? 0 : mdb_fail(errmsg, rc, what, dir);
}

static int rs_del(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
                  const char *what, const char *dir, char *errmsg)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_del(txn, dbi, &k, NULL);

    return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_fail(errmsg, rc, what, dir);
}

/* Get @key from @dbi: 0, TDEI_NOTFOUND or a failure. */
static int rs_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t klen,
                  MDB_val *v, const char *what, const char *dir, char *errmsg)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    int rc = mdb_get(txn, dbi, &k, v);

    if (rc == MDB_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "%s is not stored", what);
    }
    return rc == 0 ? 0 : mdb_fail(errmsg, rc, what, dir);
}

static int stats_read(struct rstore *s, MDB_txn *txn, const char *stream,
                      struct rstore_stats *st, char *errmsg)
{
    MDB_val v;
    int rc = rs_get(txn, s->streams, (const uint8_t *)stream, strlen(stream),
                    &v, "stream counters", s->dir, errmsg);

    if (rc == TDEI_NOTFOUND) {
        memset(st, 0, sizeof(*st));
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    return stats_decode(st, stream, v.mv_data, v.mv_size, errmsg);
}

static int stats_write(struct rstore *s, MDB_txn *txn, const char *stream,
                       const struct rstore_stats *st, char *errmsg)
{
    uint8_t buf[RS_STATS_MAX];
    size_t len = stats_encode(buf, st);

    return rs_put(txn, s->streams, (const uint8_t *)stream, strlen(stream), buf,
                  len, "put stream counters", s->dir, errmsg);
}

/* Widen the held range with [@a, @b): a run below or touching it joins
 * it; a lower run that does not touch it becomes the range (held_from is
 * the lowest seq held). */
static void range_add(struct rstore_stats *st, uint64_t a, uint64_t b)
{
    if (!st->held) {
        st->held = 1;
        st->held_from = a;
        st->next_seq = b;
    } else if (a < st->held_from) {
        if (b < st->held_from) {
            st->next_seq = b;
        } else if (b > st->next_seq) {
            st->next_seq = b;
        }
        st->held_from = a;
    } else if (a <= st->next_seq && b > st->next_seq) {
        st->next_seq = b;
    }
}

/* Move next_seq over the records of @stream already held beyond it
 * (batches that came before a gap was filled). Bounded by the records
 * held. */
static int range_extend(struct rstore *s, MDB_txn *txn, const char *stream,
                        struct rstore_stats *st, char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, st->next_seq);
    MDB_val k = {.mv_size = klen, .mv_data = kb};
    MDB_val v;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->records, &c);

    if (rc != 0) {
        return mdb_fail(errmsg, rc, "open cursor", s->dir);
    }
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size == klen &&
           memcmp(k.mv_data, kb, klen - 8) == 0 &&
           get64((const uint8_t *)k.mv_data + klen - 8) == st->next_seq) {
        st->next_seq++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == 0 || rc == MDB_NOTFOUND
               ? 0
               : mdb_fail(errmsg, rc, "walk records", s->dir);
}

/* ---- open and close ------------------------------------------------------ */

static int rs_make_dir(const char *dir, char *errmsg)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "create stream store dir %s: %s; check that its "
                           "parent exists and is writable",
                           dir, strerror(err));
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "stream store dir %s is not a directory; move "
                           "what is there away",
                           dir);
    }
    return 0;
}

static int rs_dbs_open(struct rstore *s, char *errmsg)
{
    static const char *const names[] = {"batches", "bdata", "expect",
                                        "records", "streams", "meta",
                                        "queue"};
    MDB_dbi *dbis[] = {&s->batches, &s->bdata, &s->expect, &s->records,
                       &s->streams, &s->meta,  &s->queue};
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

    for (size_t i = 0; rc == 0 && i < sizeof(dbis) / sizeof(dbis[0]); i++) {
        rc = mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]);
    }
    if (rc == 0) {
        rc = store_meta_version(txn, s->meta, RS_VERSION_KEY,
                                RSTORE_FORMAT_VERSION);
        if (rc == TDEI_VERSION) {
            mdb_txn_abort(txn);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_VERSION,
                               "stream store %s has another format version "
                               "(this tdei reads version %u)",
                               s->dir, RSTORE_FORMAT_VERSION);
        }
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (rc != 0) {
        if (txn != NULL) {
            mdb_txn_abort(txn);
        }
        return mdb_fail(errmsg, rc, "open databases", s->dir);
    }
    return 0;
}

void rstore_close(struct rstore *s)
{
    if (s == NULL) {
        return;
    }
    if (s->env != NULL) {
        mdb_env_close(s->env);
    }
    if (s->lock_fd >= 0) {
        (void)close(s->lock_fd);
    }
    tdei_free(s->dir);
    tdei_free(s);
}

int rstore_open(struct rstore **out, const char *path, char *errmsg)
{
    struct rstore *s;
    int rc;

    *out = NULL;
    if (strlen(path) == 0 || strlen(path) >= RS_PATH_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "stream store path of %zu bytes is outside "
                           "1-%u bytes",
                           strlen(path), RS_PATH_MAX - 1);
    }
    s = tdei_calloc(1, sizeof(*s));
    if (s == NULL || (s->dir = tdei_strdup(path)) == NULL) {
        tdei_free(s);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "open stream store %s: out of memory", path);
    }
    s->lock_fd = -1;
    rc = rs_make_dir(s->dir, errmsg);
    if (rc == 0) {
        rc = tdei_dir_lock(s->dir, RS_LOCK_NAME, "stream store", &s->lock_fd, errmsg);
    }
    if (rc == 0) {
        rc = mdb_env_create(&s->env);
        if (rc != 0) {
            s->env = NULL;
        }
        if (rc == 0) {
            rc = mdb_env_set_maxdbs(s->env, 7);
        }
        if (rc == 0) {
            rc = mdb_env_set_mapsize(s->env, (size_t)RSTORE_MAP_SIZE);
        }
        if (rc == 0) {
            rc = mdb_env_open(s->env, s->dir, MDB_NOTLS, 0600);
        }
        rc = rc == 0 ? 0 : mdb_fail(errmsg, rc, "open environment", s->dir);
    }
    if (rc == 0) {
        (void)mdb_reader_check(s->env, NULL);
        rc = rs_dbs_open(s, errmsg);
    }
    if (rc != 0) {
        rstore_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- the owner's batches ------------------------------------------------- */

struct batch_put_arg
{
    const struct rstore_batch *b;
    const ProtobufCBinaryData *records;
    size_t n;
    size_t data_len;
    uint64_t q_first; /* queued records to delete with it */
    uint64_t q_count;
};

static int queue_del_txn(struct rstore *s, MDB_txn *txn, const char *stream,
                         uint64_t first, uint64_t count, char *errmsg);

static int batch_put_fn(struct rstore *s, MDB_txn *txn, void *arg, char *errmsg)
{
    struct batch_put_arg *a = arg;
    uint8_t kb[RS_KEY_MAX];
    uint8_t hb[RS_BATCH_MAX];
    size_t klen = sid_key(kb, a->b->stream, a->b->seq_first);
    size_t hlen = batch_encode(hb, a->b);
    MDB_val k = {.mv_size = klen, .mv_data = kb};
    MDB_val v = {.mv_size = a->data_len, .mv_data = NULL};
    struct rstore_stats st;
    uint8_t *p;
    int rc = rs_put(txn, s->batches, kb, klen, hb, hlen, "put batch", s->dir,
                    errmsg);

    if (rc == 0) {
        rc = mdb_put(txn, s->bdata, &k, &v, MDB_RESERVE);
        if (rc != 0) {
            return mdb_fail(errmsg, rc, "put batch records", s->dir);
        }
        p = v.mv_data;
        for (size_t i = 0; i < a->n; i++) {
            uint32_t len = (uint32_t)a->records[i].len;
            p[0] = (uint8_t)(len >> 24);
            p[1] = (uint8_t)(len >> 16);
            p[2] = (uint8_t)(len >> 8);
            p[3] = (uint8_t)len;
            memcpy(p + 4, a->records[i].data, len);
            p += 4 + len;
        }
        TDEI_ASSERT((size_t)(p - (uint8_t *)v.mv_data) == a->data_len);
        rc = stats_read(s, txn, a->b->stream, &st, errmsg);
    }
    if (rc == 0 && a->b->last_ts > st.last_ts) {
        st.last_ts = a->b->last_ts;
        rc = stats_write(s, txn, a->b->stream, &st, errmsg);
    }
    if (rc == 0 && a->q_count > 0) {
        rc = queue_del_txn(s, txn, a->b->stream, a->q_first, a->q_count,
                           errmsg);
    }
    return rc;
}

int rstore_batch_put(struct rstore *s, const struct rstore_batch *b,
                     const ProtobufCBinaryData *records, size_t n, char *errmsg)
{
    return rstore_batch_put_queued(s, b, records, n, 0, 0, errmsg);
}

int rstore_batch_put_queued(struct rstore *s, const struct rstore_batch *b,
                            const ProtobufCBinaryData *records, size_t n,
                            uint64_t q_first, uint64_t q_count, char *errmsg)
{
    struct batch_put_arg a = {.b = b,
                              .records = records,
                              .n = n,
                              .q_first = q_first,
                              .q_count = q_count};

    TDEI_ASSERT(id_ok(b->stream, STREAM_ID_MAX));
    if (n != b->count || b->n_charges > RSTORE_CHARGES_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "batch %" PRIu64 " of %s: %zu records given for "
                           "a count of %" PRIu64,
                           b->seq_first, b->stream, n, b->count);
    }
    for (size_t i = 0; i < n; i++) {
        if (records[i].len > STREAM_SEALED_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "record %zu of batch %" PRIu64 " of %s has "
                               "%zu bytes; the most is %u",
                               i, b->seq_first, b->stream, records[i].len,
                               STREAM_SEALED_MAX);
        }
        a.data_len += 4 + records[i].len;
    }
    return rs_write(s, batch_put_fn, &a, errmsg);
}

struct batch_applied_arg
{
    const char *stream;
    uint64_t seq_first;
    uint64_t height;
    uint64_t applied_ms;
    const struct rstore_charge *charges;
    size_t n;
};

static int batch_applied_fn(struct rstore *s, MDB_txn *txn, void *arg,
                            char *errmsg)
{
    struct batch_applied_arg *a = arg;
    uint8_t kb[RS_KEY_MAX];
    uint8_t hb[RS_BATCH_MAX];
    size_t klen = sid_key(kb, a->stream, a->seq_first);
    struct rstore_batch b;
    struct rstore_stats st;
    MDB_val v;
    int was_pending;
    int rc = rs_get(txn, s->batches, kb, klen, &v, "batch", s->dir, errmsg);

    if (rc == 0) {
        rc = batch_decode(&b, a->stream, a->seq_first, v.mv_data, v.mv_size,
                          errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    was_pending = b.state == RSTORE_PENDING;
    b.state = RSTORE_APPLIED;
    b.height = a->height;
    b.applied_ms = a->applied_ms;
    b.n_charges = a->n;
    if (a->n > 0) { /* a batch no subscription paid for has none */
        memcpy(b.charges, a->charges, a->n * sizeof(*a->charges));
    }
    rc = rs_put(txn, s->batches, kb, klen, hb, batch_encode(hb, &b),
                "put batch", s->dir, errmsg);
    sodium_memzero(b.key, sizeof(b.key));
    sodium_memzero(hb, sizeof(hb));
    if (rc == 0 && was_pending) {
        rc = stats_read(s, txn, a->stream, &st, errmsg);
        if (rc == 0) {
            st.appended_records += b.count;
            st.appended_batches++;
            range_add(&st, b.seq_first, b.seq_first + b.count);
            rc = stats_write(s, txn, a->stream, &st, errmsg);
        }
    }
    return rc;
}

int rstore_batch_applied(struct rstore *s, const char *stream,
                         uint64_t seq_first, uint64_t height,
                         uint64_t applied_ms,
                         const struct rstore_charge *charges, size_t n,
                         char *errmsg)
{
    struct batch_applied_arg a = {.stream = stream,
                                  .seq_first = seq_first,
                                  .height = height,
                                  .applied_ms = applied_ms,
                                  .charges = charges,
                                  .n = n};

    if (n > RSTORE_CHARGES_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%zu charges for one batch; the most is %u", n,
                           RSTORE_CHARGES_MAX);
    }
    return rs_write(s, batch_applied_fn, &a, errmsg);
}

struct batch_refused_arg
{
    const char *stream;
    uint64_t seq_first;
    uint64_t count;
    uint32_t code;
    const char *reason;
};

static int batch_refused_fn(struct rstore *s, MDB_txn *txn, void *arg,
                            char *errmsg)
{
    struct batch_refused_arg *a = arg;
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, a->stream, a->seq_first);
    struct rstore_stats st;
    size_t tlen = strlen(a->reason);
    int rc = rs_del(txn, s->batches, kb, klen, "delete batch", s->dir, errmsg);

    if (rc == 0) {
        rc = rs_del(txn, s->bdata, kb, klen, "delete batch records", s->dir,
                    errmsg);
    }
    if (rc == 0) {
        rc = stats_read(s, txn, a->stream, &st, errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    st.refused_records += a->count;
    st.refused_batches++;
    st.last_refusal_code = a->code;
    if (tlen > RSTORE_REFUSAL_MAX) {
        tlen = RSTORE_REFUSAL_MAX;
    }
    memcpy(st.last_refusal, a->reason, tlen);
    st.last_refusal[tlen] = '\0';
    return stats_write(s, txn, a->stream, &st, errmsg);
}

int rstore_batch_refused(struct rstore *s, const char *stream,
                         uint64_t seq_first, uint64_t count, uint32_t code,
                         const char *reason, char *errmsg)
{
    struct batch_refused_arg a = {.stream = stream,
                                  .seq_first = seq_first,
                                  .count = count,
                                  .code = code,
                                  .reason = reason};

    TDEI_ASSERT(id_ok(stream, STREAM_ID_MAX));
    return rs_write(s, batch_refused_fn, &a, errmsg);
}

int rstore_batch_get(struct rstore *s, const char *stream, uint64_t seq_first,
                     struct rstore_batch *out, char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, seq_first);
    MDB_txn *txn;
    MDB_val v;
    int rc = rs_read_begin(s, &txn, errmsg);

    memset(out, 0, sizeof(*out));
    if (rc != 0) {
        return rc;
    }
    rc = rs_get(txn, s->batches, kb, klen, &v, "batch", s->dir, errmsg);
    if (rc == 0) {
        rc = batch_decode(out, stream, seq_first, v.mv_data, v.mv_size, errmsg);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* Whether key @k is a batch key of the stream whose SID is @kb[0..sid). */
static int same_sid(const MDB_val *k, const uint8_t *kb, size_t sid)
{
    return k->mv_size == sid + 8 && memcmp(k->mv_data, kb, sid) == 0;
}

int rstore_batch_at(struct rstore *s, const char *stream, uint64_t seq,
                    struct rstore_batch *out, char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, seq);
    size_t sid = klen - 8;
    MDB_val k = {.mv_size = klen, .mv_data = kb};
    MDB_val v;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    int rc = rs_read_begin(s, &txn, errmsg);
    int found = 0;

    memset(out, 0, sizeof(*out));
    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_open(txn, s->batches, &c);
    if (rc == 0) {
        /* The batch starting at or before @seq, if it reaches @seq. */
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && same_sid(&k, kb, sid) &&
            get64((const uint8_t *)k.mv_data + sid) == seq) {
            found = 1;
        } else {
            rc = mdb_cursor_get(c, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
            if (rc == 0 && same_sid(&k, kb, sid)) {
                rc = batch_decode(out, stream,
                                  get64((const uint8_t *)k.mv_data + sid),
                                  v.mv_data, v.mv_size, errmsg);
                if (rc != 0) {
                    goto done;
                }
                found = out->seq_first + out->count > seq;
            }
            if (!found) {
                /* Else the first batch after @seq. */
                k.mv_size = klen;
                k.mv_data = kb;
                rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
                found = rc == 0 && same_sid(&k, kb, sid);
            } else {
                goto done;
            }
        }
        if (found) {
            rc = batch_decode(out, stream,
                              get64((const uint8_t *)k.mv_data + sid),
                              v.mv_data, v.mv_size, errmsg);
            goto done;
        }
    }
    if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                         "no batch of stream %s holds seq %" PRIu64 " or later",
                         stream, seq);
    } else {
        rc = mdb_fail(errmsg, rc, "find batch", s->dir);
    }
done:
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

int rstore_batch_records(struct rstore *s, const char *stream,
                         uint64_t seq_first, uint8_t **blob,
                         ProtobufCBinaryData *records, size_t cap, size_t *n,
                         char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, seq_first);
    size_t off = 0;
    MDB_txn *txn;
    MDB_val v;
    uint8_t *copy;
    int rc = rs_read_begin(s, &txn, errmsg);

    *blob = NULL;
    *n = 0;
    if (rc != 0) {
        return rc;
    }
    rc = rs_get(txn, s->bdata, kb, klen, &v, "batch records", s->dir, errmsg);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    copy = tdei_malloc(v.mv_size == 0 ? 1 : v.mv_size);
    if (copy == NULL) {
        mdb_txn_abort(txn);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "read batch %" PRIu64 " of %s: out of memory",
                           seq_first, stream);
    }
    memcpy(copy, v.mv_data, v.mv_size);
    mdb_txn_abort(txn);
    while (off < v.mv_size) {
        size_t len;

        if (v.mv_size - off < 4 || *n == cap) {
            break;
        }
        len = ((size_t)copy[off] << 24) | ((size_t)copy[off + 1] << 16) |
              ((size_t)copy[off + 2] << 8) | copy[off + 3];
        off += 4;
        if (len > v.mv_size - off) {
            break;
        }
        records[*n].data = copy + off;
        records[*n].len = len;
        (*n)++;
        off += len;
    }
    if (off != v.mv_size) {
        tdei_free(copy);
        *n = 0;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "the records of batch %" PRIu64 " of %s do not "
                           "parse",
                           seq_first, stream);
    }
    *blob = copy;
    return 0;
}

int rstore_pending_each(struct rstore *s,
                        int (*cb)(void *arg, const struct rstore_batch *b),
                        void *arg, char *errmsg)
{
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k;
    MDB_val v;
    struct rstore_batch b;
    int rc = rs_read_begin(s, &txn, errmsg);
    int mrc;

    if (rc != 0) {
        return rc;
    }
    mrc = mdb_cursor_open(txn, s->batches, &c);
    if (mrc == 0) {
        mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    memset(&b, 0, sizeof(b));
    while (rc == 0 && mrc == 0) {
        const uint8_t *kp = k.mv_data;
        char stream[STREAM_ID_MAX + 1];

        if (k.mv_size < 10 || kp[0] < 1 || kp[0] > STREAM_ID_MAX ||
            k.mv_size != 1u + kp[0] + 8u) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                             "a batch key in %s does not parse", s->dir);
            break;
        }
        memcpy(stream, kp + 1, kp[0]);
        stream[kp[0]] = '\0';
        rc = batch_decode(&b, stream, get64(kp + 1 + kp[0]), v.mv_data,
                          v.mv_size, errmsg);
        if (rc == 0 && b.state == RSTORE_PENDING) {
            rc = cb(arg, &b);
        }
        if (rc == 0) {
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    sodium_memzero(b.key, sizeof(b.key));
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = mdb_fail(errmsg, mrc, "walk batches", s->dir);
    }
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* ---- the owner's queue --------------------------------------------------- */

struct queue_put_arg
{
    const char *stream;
    const struct rstore_queued *recs;
    size_t n;
};

static int queue_put_fn(struct rstore *s, MDB_txn *txn, void *arg, char *errmsg)
{
    struct queue_put_arg *a = arg;

    for (size_t i = 0; i < a->n; i++) {
        const struct rstore_queued *r = &a->recs[i];
        uint8_t kb[RS_KEY_MAX];
        size_t klen = sid_key(kb, a->stream, r->qseq);
        MDB_val k = {.mv_size = klen, .mv_data = kb};
        MDB_val v = {.mv_size = 9 + r->len, .mv_data = NULL};
        uint8_t *p;
        int rc = mdb_put(txn, s->queue, &k, &v, MDB_RESERVE);

        if (rc != 0) {
            return mdb_fail(errmsg, rc, "queue a record", s->dir);
        }
        p = v.mv_data;
        p[0] = 1;
        put64(p + 1, r->ts_ms);
        memcpy(p + 9, r->data, r->len);
    }
    return 0;
}

int rstore_queue_put(struct rstore *s, const char *stream,
                     const struct rstore_queued *recs, size_t n, char *errmsg)
{
    struct queue_put_arg a = {.stream = stream, .recs = recs, .n = n};

    TDEI_ASSERT(id_ok(stream, STREAM_ID_MAX));
    for (size_t i = 0; i < n; i++) {
        if (recs[i].len == 0 || recs[i].len > STREAM_RECORD_DATA_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                               "record %zu for %s has %zu bytes; a record "
                               "has 1-%u",
                               i, stream, recs[i].len, STREAM_RECORD_DATA_MAX);
        }
    }
    return rs_write(s, queue_put_fn, &a, errmsg);
}

static int queue_del_txn(struct rstore *s, MDB_txn *txn, const char *stream,
                         uint64_t first, uint64_t count, char *errmsg)
{
    for (uint64_t i = 0; i < count; i++) {
        uint8_t kb[RS_KEY_MAX];
        size_t klen = sid_key(kb, stream, first + i);
        int rc = rs_del(txn, s->queue, kb, klen, "delete a queued record",
                        s->dir, errmsg);

        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

struct queue_del_arg
{
    const char *stream;
    uint64_t first;
    uint64_t count;
};

static int queue_del_fn(struct rstore *s, MDB_txn *txn, void *arg, char *errmsg)
{
    struct queue_del_arg *a = arg;

    return queue_del_txn(s, txn, a->stream, a->first, a->count, errmsg);
}

int rstore_queue_delete(struct rstore *s, const char *stream, uint64_t first,
                        uint64_t count, char *errmsg)
{
    struct queue_del_arg a = {.stream = stream, .first = first, .count = count};

    TDEI_ASSERT(id_ok(stream, STREAM_ID_MAX));
    return rs_write(s, queue_del_fn, &a, errmsg);
}

int rstore_queue_each(struct rstore *s,
                      int (*cb)(void *arg, const char *stream,
                                const struct rstore_queued *rec),
                      void *arg, char *errmsg)
{
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k;
    MDB_val v;
    int rc = rs_read_begin(s, &txn, errmsg);
    int mrc;

    if (rc != 0) {
        return rc;
    }
    mrc = mdb_cursor_open(txn, s->queue, &c);
    if (mrc == 0) {
        mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    while (rc == 0 && mrc == 0) {
        const uint8_t *kp = k.mv_data;
        const uint8_t *vp = v.mv_data;
        char stream[STREAM_ID_MAX + 1];
        struct rstore_queued rec;

        if (k.mv_size < 10 || kp[0] < 1 || kp[0] > STREAM_ID_MAX ||
            k.mv_size != 1u + kp[0] + 8u || v.mv_size < 10 || vp[0] != 1 ||
            v.mv_size - 9 > STREAM_RECORD_DATA_MAX) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                             "a queued record in %s does not parse", s->dir);
            break;
        }
        memcpy(stream, kp + 1, kp[0]);
        stream[kp[0]] = '\0';
        rec.qseq = get64(kp + 1 + kp[0]);
        rec.ts_ms = get64(vp + 1);
        rec.data = vp + 9;
        rec.len = v.mv_size - 9;
        rc = cb(arg, stream, &rec);
        if (rc == 0) {
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = mdb_fail(errmsg, mrc, "walk the queue", s->dir);
    }
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* ---- a subscriber's expected batches and records ------------------------- */

static int record_held_txn(struct rstore *s, MDB_txn *txn, const char *stream,
                           uint64_t seq, char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, seq);
    MDB_val v;
    int rc = rs_get(txn, s->records, kb, klen, &v, "record", s->dir, errmsg);

    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    return rc == 0 ? 1 : -rc;
}

static int expect_put_fn(struct rstore *s, MDB_txn *txn, void *arg,
                         char *errmsg)
{
    const struct rstore_expect *e = arg;
    uint8_t kb[RS_XKEY_SIZE];
    uint8_t vb[RS_EXPECT_MAX];
    int held = record_held_txn(s, txn, e->stream, e->seq_first, errmsg);

    if (held < 0) {
        return -held;
    }
    if (held) {
        return 0;
    }
    xkey(kb, e->xid, e->seq_first);
    return rs_put(txn, s->expect, kb, sizeof(kb), vb, expect_encode(vb, e),
                  "put expected batch", s->dir, errmsg);
}

int rstore_expect_put(struct rstore *s, const struct rstore_expect *e,
                      char *errmsg)
{
    if (!id_ok(e->stream, STREAM_ID_MAX) ||
        !id_ok(e->owner, TDEI_MEMBER_ID_MAX) || e->paid > e->count) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "expected batch %" PRIu64 ": bad stream or owner "
                           "id, or paid %" PRIu64 " above count %" PRIu64,
                           e->seq_first, e->paid, e->count);
    }
    return rs_write(s, expect_put_fn, (void *)(uintptr_t)e, errmsg);
}

int rstore_expect_get(struct rstore *s, const uint8_t xid[32],
                      uint64_t seq_first, struct rstore_expect *out,
                      char *errmsg)
{
    uint8_t kb[RS_XKEY_SIZE];
    MDB_txn *txn;
    MDB_val v;
    int rc = rs_read_begin(s, &txn, errmsg);

    memset(out, 0, sizeof(*out));
    if (rc != 0) {
        return rc;
    }
    xkey(kb, xid, seq_first);
    rc = rs_get(txn, s->expect, kb, sizeof(kb), &v, "expected batch", s->dir,
                errmsg);
    if (rc == 0) {
        rc = expect_decode(out, xid, v.mv_data, v.mv_size, errmsg);
    }
    mdb_txn_abort(txn);
    return rc;
}

/* Decode the expected batch at the cursor position @k, @v. */
static int expect_at(struct rstore *s, const MDB_val *k, const MDB_val *v,
                     struct rstore_expect *out, char *errmsg)
{
    if (k->mv_size != RS_XKEY_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "an expected batch key in %s does not parse",
                           s->dir);
    }
    return expect_decode(out, k->mv_data, v->mv_data, v->mv_size, errmsg);
}

/* Position @c at the first expected batch whose key is above every key of
 * @xid when @past, else at or after @xid || 0, and decode it.
 * Returns 0, TDEI_NOTFOUND (no such entry) or a failure. */
static int expect_seek(struct rstore *s, MDB_cursor *c, const uint8_t *xid,
                       int past, struct rstore_expect *out, char *errmsg)
{
    uint8_t kb[RS_XKEY_SIZE];
    MDB_val k = {.mv_size = sizeof(kb), .mv_data = kb};
    MDB_val v;
    int rc;

    xkey(kb, xid, past ? UINT64_MAX : 0);
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && past && memcmp(k.mv_data, xid, 32) == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
        return TDEI_NOTFOUND;
    }
    if (rc != 0) {
        return mdb_fail(errmsg, rc, "find expected batch", s->dir);
    }
    return expect_at(s, &k, &v, out, errmsg);
}

int rstore_expect_first(struct rstore *s, const uint8_t xid[32],
                        struct rstore_expect *out, char *errmsg)
{
    uint8_t want[32];
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    int rc = rs_read_begin(s, &txn, errmsg);

    memcpy(want, xid, sizeof(want));
    memset(out, 0, sizeof(*out));
    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_open(txn, s->expect, &c);
    if (rc != 0) {
        rc = mdb_fail(errmsg, rc, "open cursor", s->dir);
    } else {
        rc = expect_seek(s, c, want, 0, out, errmsg);
        mdb_cursor_close(c);
        if (rc == 0 && memcmp(out->xid, want, 32) != 0) {
            rc = TDEI_NOTFOUND;
        }
    }
    if (rc == TDEI_NOTFOUND) {
        memset(out, 0, sizeof(*out));
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                         "no batch is owed to this subscription");
    }
    mdb_txn_abort(txn);
    return rc;
}

int rstore_expect_each_first(struct rstore *s,
                             int (*cb)(void *arg,
                                       const struct rstore_expect *e),
                             void *arg, char *errmsg)
{
    uint8_t xid[32] = {0};
    struct rstore_expect e;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    int rc = rs_read_begin(s, &txn, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_open(txn, s->expect, &c);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return mdb_fail(errmsg, rc, "open cursor", s->dir);
    }
    /* One entry per xid: its first, then a jump past the xid's keys. */
    rc = expect_seek(s, c, xid, 0, &e, errmsg);
    while (rc == 0) {
        rc = cb(arg, &e);
        if (rc == 0) {
            memcpy(xid, e.xid, 32);
            rc = expect_seek(s, c, xid, 1, &e, errmsg);
        }
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    return rc == TDEI_NOTFOUND ? 0 : rc;
}

struct records_put_arg
{
    const struct rstore_expect *e;
    const struct stream_plain *recs;
    size_t n;
    uint64_t stored_ms;
};

static int records_put_fn(struct rstore *s, MDB_txn *txn, void *arg,
                          char *errmsg)
{
    struct records_put_arg *a = arg;
    const struct rstore_expect *e = a->e;
    uint8_t xk[RS_XKEY_SIZE];
    struct rstore_stats st;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < a->n; i++) {
        uint8_t kb[RS_KEY_MAX];
        size_t klen = sid_key(kb, e->stream, e->seq_first + i);
        MDB_val k = {.mv_size = klen, .mv_data = kb};
        MDB_val v = {.mv_size = RS_RECORD_FIXED + a->recs[i].len};
        uint8_t *p;

        rc = mdb_put(txn, s->records, &k, &v, MDB_RESERVE);
        if (rc != 0) {
            return mdb_fail(errmsg, rc, "put record", s->dir);
        }
        p = v.mv_data;
        p[0] = 1;
        put64(p + 1, a->recs[i].ts_ms);
        put64(p + 9, e->height);
        put64(p + 17, a->stored_ms);
        if (a->recs[i].len > 0) {
            memcpy(p + RS_RECORD_FIXED, a->recs[i].data, a->recs[i].len);
        }
    }
    xkey(xk, e->xid, e->seq_first);
    rc = rs_del(txn, s->expect, xk, sizeof(xk), "delete expected batch", s->dir,
                errmsg);
    if (rc == 0) {
        rc = stats_read(s, txn, e->stream, &st, errmsg);
    }
    if (rc == 0) {
        st.received_records += a->n;
        if (a->n > 0) {
            range_add(&st, e->seq_first, e->seq_first + a->n);
            rc = range_extend(s, txn, e->stream, &st, errmsg);
        }
    }
    return rc == 0 ? stats_write(s, txn, e->stream, &st, errmsg) : rc;
}

int rstore_records_put(struct rstore *s, const struct rstore_expect *e,
                       const struct stream_plain *recs, size_t n,
                       uint64_t stored_ms, char *errmsg)
{
    struct records_put_arg a = {
        .e = e, .recs = recs, .n = n, .stored_ms = stored_ms};

    if (n > e->paid || !id_ok(e->stream, STREAM_ID_MAX)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%zu records to store of a batch that paid "
                           "%" PRIu64,
                           n, e->paid);
    }
    return rs_write(s, records_put_fn, &a, errmsg);
}

int rstore_record_held(struct rstore *s, const char *stream, uint64_t seq,
                       char *errmsg)
{
    MDB_txn *txn;
    int rc = rs_read_begin(s, &txn, errmsg);

    if (rc != 0) {
        return -rc;
    }
    rc = record_held_txn(s, txn, stream, seq, errmsg);
    mdb_txn_abort(txn);
    return rc;
}

int rstore_record_next(struct rstore *s, const char *stream, uint64_t seq,
                       uint64_t *next, char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, seq);
    MDB_val k = {.mv_size = klen, .mv_data = kb};
    MDB_val v;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    int rc = rs_read_begin(s, &txn, errmsg);

    *next = 0;
    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_open(txn, s->records, &c);
    if (rc == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    if (rc == 0 && same_sid(&k, kb, klen - 8)) {
        *next = get64((const uint8_t *)k.mv_data + klen - 8);
    } else if (rc == 0 || rc == MDB_NOTFOUND) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                         "no record of %s is held from seq %" PRIu64, stream,
                         seq);
    } else {
        rc = mdb_fail(errmsg, rc, "find a record", s->dir);
    }
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

int rstore_owed_from(struct rstore *s, const char *stream, uint64_t seq,
                     struct rstore_expect *out, char *errmsg)
{
    struct rstore_expect e;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    MDB_val k;
    MDB_val v;
    int found = 0;
    int rc = rs_read_begin(s, &txn, errmsg);
    int mrc;

    memset(out, 0, sizeof(*out));
    if (rc != 0) {
        return rc;
    }
    mrc = mdb_cursor_open(txn, s->expect, &c);
    if (mrc == 0) {
        mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    while (rc == 0 && mrc == 0) {
        rc = expect_at(s, &k, &v, &e, errmsg);
        if (rc == 0 && strcmp(e.stream, stream) == 0 && e.paid > 0 &&
            e.seq_first + e.paid > seq &&
            (!found || e.seq_first < out->seq_first)) {
            *out = e;
            found = 1;
        }
        if (rc == 0) {
            mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    if (rc == 0 && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = mdb_fail(errmsg, mrc, "walk owed batches", s->dir);
    }
    if (rc == 0 && !found) {
        rc =
            tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                        "nothing of %s is owed from seq %" PRIu64, stream, seq);
    }
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

int rstore_records_each(struct rstore *s, const char *stream, uint64_t from_seq,
                        uint64_t limit,
                        int (*cb)(void *arg, const struct rstore_record *rec),
                        void *arg, char *errmsg)
{
    uint8_t kb[RS_KEY_MAX];
    size_t klen = sid_key(kb, stream, from_seq);
    MDB_val k = {.mv_size = klen, .mv_data = kb};
    MDB_val v;
    MDB_cursor *c = NULL;
    MDB_txn *txn;
    uint64_t want = from_seq;
    uint64_t done = 0;
    int rc = rs_read_begin(s, &txn, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_open(txn, s->records, &c);
    if (rc == 0) {
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    }
    while (rc == 0 && done < limit) {
        const uint8_t *p = v.mv_data;
        struct rstore_record rec;

        if (!same_sid(&k, kb, klen - 8)) {
            break;
        }
        rec.seq = get64((const uint8_t *)k.mv_data + klen - 8);
        if (rec.seq != want) {
            break; /* a gap */
        }
        if (v.mv_size < RS_RECORD_FIXED || p[0] != 1) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                             "record %" PRIu64 " of %s does not decode",
                             rec.seq, stream);
            goto out;
        }
        rec.ts_ms = get64(p + 1);
        rec.height = get64(p + 9);
        rec.stored_ms = get64(p + 17);
        rec.data = p + RS_RECORD_FIXED;
        rec.len = v.mv_size - RS_RECORD_FIXED;
        rc = cb(arg, &rec);
        if (rc != 0) {
            rc = rc == 1 ? 0 : rc;
            goto out;
        }
        done++;
        if (want == UINT64_MAX) {
            break;
        }
        want++;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (rc == MDB_NOTFOUND) {
        rc = 0;
    } else if (rc != 0) {
        rc = mdb_fail(errmsg, rc, "walk records", s->dir);
    }
out:
    if (c != NULL) {
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

static int bad_batch_fn(struct rstore *s, MDB_txn *txn, void *arg, char *errmsg)
{
    const char *stream = arg;
    struct rstore_stats st;
    int rc = stats_read(s, txn, stream, &st, errmsg);

    if (rc == 0) {
        st.bad_batches++;
        rc = stats_write(s, txn, stream, &st, errmsg);
    }
    return rc;
}

int rstore_bad_batch(struct rstore *s, const char *stream, char *errmsg)
{
    TDEI_ASSERT(id_ok(stream, STREAM_ID_MAX));
    return rs_write(s, bad_batch_fn, (void *)(uintptr_t)stream, errmsg);
}

/* ---- counters ------------------------------------------------------------ */

int rstore_stats_get(struct rstore *s, const char *stream,
                     struct rstore_stats *out, char *errmsg)
{
    MDB_txn *txn;
    int rc = rs_read_begin(s, &txn, errmsg);

    memset(out, 0, sizeof(*out));
    if (rc != 0) {
        return rc;
    }
    rc = stats_read(s, txn, stream, out, errmsg);
    mdb_txn_abort(txn);
    return rc;
}
