/* The payload layer of the data plane: see blob.h for the protocol, the
 * databases and the manifest record.
 *
 * Writes go through blob_write, which runs a function inside one LMDB
 * write transaction and commits it; on a full map it aborts, grows the map
 * and runs the function again, so the functions keep no state between
 * attempts. Every call ends its transactions before it returns, so no read
 * is open when the map grows (the store is used by one thread at a
 * time). */
#include "blob/blob.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/fileio.h"
#include "core/hash.h"
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

#define BLOB_LOCK_NAME "LOCK"
#define BLOB_META_VERSION_KEY "blob.version"
#define BLOB_CHUNK_KEY_SIZE (BLOB_ROOT_SIZE + 8u) /* root || u64 BE index */
#define BLOB_MANIFEST_FIXED 30u /* bytes before the dataset id */
#define BLOB_MANIFEST_MAX (BLOB_MANIFEST_FIXED + BLOB_DATASET_ID_MAX)
#define BLOB_IMPORT_BATCH 64u /* chunks per write transaction (4 MiB) */
#define BLOB_PATH_MAX 4096u
/* chunks, leaves, manifests, meta, keys, delivery, transfers */
#define BLOB_DBS 7u

_Static_assert(BLOB_SEALED_SIZE_MAX ==
                   BLOB_CHUNK_SIZE +
                       crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "sealed chunk = chunk + Poly1305 tag");
_Static_assert(BLOB_NONCE_SIZE == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "XChaCha20 nonce size");
_Static_assert(BLOB_KEY_SIZE == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "XChaCha20 key size");
_Static_assert(BLOB_CHUNK_COUNT_MAX == (1ull << 20),
               "64 GiB of 64 KiB chunks");

struct blob_store
{
    char *dir;             /* the environment's directory */
    int lock_fd;           /* DIR/LOCK, flocked */
    MDB_env *env;          /* the environment */
    MDB_dbi chunks;        /* root || index -> sealed chunk */
    MDB_dbi leaves;        /* root || index -> leaf hash */
    MDB_dbi manifests;     /* root -> manifest record */
    MDB_dbi meta;          /* blob.version */
    MDB_dbi keys;          /* root -> content key */
    MDB_dbi delivery;      /* dataset id -> delivery setting */
    MDB_dbi transfers;     /* root -> exchange id */
    uint64_t map_size;     /* bytes mapped now */
    uint64_t map_size_max; /* bytes, from blob_store_open */
    /* The leaves of the last complete blob served by blob_get_chunk. */
    uint8_t cache_root[BLOB_ROOT_SIZE];
    uint8_t (*cache_leaves)[MERKLE_HASH_SIZE]; /* the tree's levels, leaves
                                                  first; NULL: none */
    uint64_t cache_count;                      /* leaves in the cache */
};

/* A decoded manifest record. */
struct blob_manifest
{
    uint8_t state;
    uint32_t version;
    uint64_t size;
    uint64_t chunk_count;
    uint64_t present;
    size_t id_len;
    char dataset_id[BLOB_DATASET_ID_MAX + 1];
};

/* ---- byte helpers -------------------------------------------------------- */

static void blob_u64_put(uint8_t out[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t blob_u64_get(const uint8_t in[8])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++) {
        v = (v << 8) | in[i];
    }
    return v;
}

static void blob_u32_put(uint8_t out[4], uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static uint32_t blob_u32_get(const uint8_t in[4])
{
    return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
           (uint32_t)in[2] << 8 | (uint32_t)in[3];
}

static void blob_chunk_key(uint8_t key[BLOB_CHUNK_KEY_SIZE],
                           const uint8_t root[BLOB_ROOT_SIZE], uint64_t index)
{
    memcpy(key, root, BLOB_ROOT_SIZE);
    blob_u64_put(key + BLOB_ROOT_SIZE, index);
}

/* A short hex prefix of @root for messages ("3fa9c2d1..."). */
static const char *blob_root_text(const uint8_t root[BLOB_ROOT_SIZE],
                                  char text[17])
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < 8; i++) {
        text[2 * i] = digits[root[i] >> 4];
        text[2 * i + 1] = digits[root[i] & 15];
    }
    text[16] = '\0';
    return text;
}

static int blob_id_check(const char *dataset_id, size_t *len_out,
                         char *errmsg)
{
    size_t len = strlen(dataset_id);

    *len_out = len;
    if (len == 0 || len > BLOB_DATASET_ID_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "dataset id of %zu bytes is outside 1-%u bytes",
                           len, BLOB_DATASET_ID_MAX);
    }
    return 0;
}

/* ---- pure: chunks, nonces, sealing, checking ----------------------------- */

uint64_t blob_chunk_count(uint64_t size)
{
    uint64_t count = size / BLOB_CHUNK_SIZE + (size % BLOB_CHUNK_SIZE != 0);

    return count == 0 ? 1 : count;
}

void blob_chunk_nonce(uint8_t nonce[BLOB_NONCE_SIZE], const char *dataset_id,
                      uint32_t version, uint64_t index)
{
    struct tdei_sha256 ctx;
    uint8_t digest[TDEI_HASH_SIZE];
    uint8_t id_len;
    uint8_t tail[12];
    size_t len = strlen(dataset_id);

    TDEI_ASSERT(len >= 1);
    TDEI_ASSERT(len <= BLOB_DATASET_ID_MAX);
    id_len = (uint8_t)len;
    blob_u32_put(tail, version);
    blob_u64_put(tail + 4, index);
    tdei_tagged_init(&ctx, BLOB_TAG_CHUNK);
    tdei_sha256_update(&ctx, &id_len, 1);
    tdei_sha256_update(&ctx, (const uint8_t *)dataset_id, len);
    tdei_sha256_update(&ctx, tail, sizeof(tail));
    tdei_sha256_final(&ctx, digest);
    memcpy(nonce, digest, BLOB_NONCE_SIZE);
}

int blob_chunk_seal(uint8_t *sealed, size_t *sealed_len, const uint8_t *plain,
                    size_t len, const uint8_t key[BLOB_KEY_SIZE],
                    const char *dataset_id, uint32_t version, uint64_t index,
                    char *errmsg)
{
    uint8_t nonce[BLOB_NONCE_SIZE];
    unsigned long long out_len = 0;
    size_t id_len;
    int rc;

    *sealed_len = 0;
    if (len > BLOB_CHUNK_SIZE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "chunk %" PRIu64 " has %zu bytes, at most %u",
                           index, len, BLOB_CHUNK_SIZE);
    }
    rc = blob_id_check(dataset_id, &id_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    blob_chunk_nonce(nonce, dataset_id, version, index);
    (void)crypto_aead_xchacha20poly1305_ietf_encrypt(
        sealed, &out_len, len == 0 ? (const uint8_t *)"" : plain, len, NULL,
        0, NULL, nonce, key);
    TDEI_ASSERT(out_len == len + BLOB_TAG_SIZE);
    *sealed_len = (size_t)out_len;
    return 0;
}

int blob_chunk_open(uint8_t *plain, size_t *plain_len, const uint8_t *sealed,
                    size_t len, const uint8_t key[BLOB_KEY_SIZE],
                    const char *dataset_id, uint32_t version, uint64_t index,
                    char *errmsg)
{
    uint8_t nonce[BLOB_NONCE_SIZE];
    unsigned long long out_len = 0;
    size_t id_len;
    int rc;

    *plain_len = 0;
    if (len < BLOB_TAG_SIZE || len > BLOB_SEALED_SIZE_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "sealed chunk %" PRIu64 " has %zu bytes, "
                           "expected %u-%u",
                           index, len, BLOB_TAG_SIZE, BLOB_SEALED_SIZE_MAX);
    }
    rc = blob_id_check(dataset_id, &id_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    blob_chunk_nonce(nonce, dataset_id, version, index);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &out_len, NULL,
                                                   sealed, len, NULL, 0,
                                                   nonce, key) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADSIG,
                           "chunk %" PRIu64 " of %s v%" PRIu32
                           " failed authentication (wrong key, or the "
                           "chunk was altered)",
                           index, dataset_id, version);
    }
    TDEI_ASSERT(out_len + BLOB_TAG_SIZE == len);
    *plain_len = (size_t)out_len;
    return 0;
}

/* Check the length rules for chunk @index of @chunk_count. */
static int blob_length_check(uint64_t chunk_count, uint64_t index, size_t len,
                             char *errmsg)
{
    if (index + 1 < chunk_count) {
        if (len != BLOB_SEALED_SIZE_MAX) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                               "sealed chunk %" PRIu64 " of %" PRIu64
                               " has %zu bytes; every chunk but the last "
                               "has exactly %u",
                               index, chunk_count, len, BLOB_SEALED_SIZE_MAX);
        }
    } else if (len < BLOB_TAG_SIZE || len > BLOB_SEALED_SIZE_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "last sealed chunk %" PRIu64 " has %zu bytes; "
                           "expected %u-%u",
                           index, len, BLOB_TAG_SIZE, BLOB_SEALED_SIZE_MAX);
    }
    return 0;
}

int blob_chunk_check(const uint8_t root[BLOB_ROOT_SIZE], uint64_t chunk_count,
                     uint64_t index, const uint8_t *sealed, size_t len,
                     const struct merkle_inclusion *proof, char *errmsg)
{
    uint8_t leaf[MERKLE_HASH_SIZE];
    int rc;

    if (chunk_count == 0 || index >= chunk_count) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "chunk index %" PRIu64 " is outside 0-%" PRIu64,
                           index, chunk_count == 0 ? 0 : chunk_count - 1);
    }
    rc = blob_length_check(chunk_count, index, len, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (proof->leaf_index != index || proof->tree_size != chunk_count ||
        proof->count > MERKLE_INCLUSION_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADPROOF,
                           "proof is for chunk %" PRIu64 " of %" PRIu64
                           ", not chunk %" PRIu64 " of %" PRIu64,
                           proof->leaf_index, proof->tree_size, index,
                           chunk_count);
    }
    merkle_leaf_hash(leaf, sealed, len);
    if (merkle_inclusion_verify(leaf, index, chunk_count, proof->path,
                                proof->count, root) != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_BADPROOF,
                           "chunk %" PRIu64 " of %" PRIu64
                           " does not lead to the content root with its "
                           "proof (altered chunk or wrong proof)",
                           index, chunk_count);
    }
    return 0;
}

/* ---- manifest records ---------------------------------------------------- */

static size_t blob_manifest_encode(uint8_t out[BLOB_MANIFEST_MAX],
                                   const struct blob_manifest *m)
{
    TDEI_ASSERT(m->id_len >= 1 && m->id_len <= BLOB_DATASET_ID_MAX);
    TDEI_ASSERT(m->present <= m->chunk_count);
    out[0] = BLOB_FORMAT_VERSION;
    out[1] = m->state;
    blob_u32_put(out + 2, m->version);
    blob_u64_put(out + 6, m->size);
    blob_u64_put(out + 14, m->chunk_count);
    blob_u64_put(out + 22, m->present);
    out[BLOB_MANIFEST_FIXED] = (uint8_t)m->id_len;
    memcpy(out + BLOB_MANIFEST_FIXED + 1, m->dataset_id, m->id_len);
    return BLOB_MANIFEST_FIXED + 1 + m->id_len;
}

static int blob_manifest_decode(struct blob_manifest *m, const uint8_t *val,
                                size_t len, char *errmsg)
{
    memset(m, 0, sizeof(*m));
    if (len < BLOB_MANIFEST_FIXED + 2 || val[0] != BLOB_FORMAT_VERSION ||
        (val[1] != BLOB_STATE_PARTIAL && val[1] != BLOB_STATE_COMPLETE) ||
        len != BLOB_MANIFEST_FIXED + 1u + val[BLOB_MANIFEST_FIXED] ||
        val[BLOB_MANIFEST_FIXED] == 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "manifest record of %zu bytes does not decode",
                           len);
    }
    m->state = val[1];
    m->version = blob_u32_get(val + 2);
    m->size = blob_u64_get(val + 6);
    m->chunk_count = blob_u64_get(val + 14);
    m->present = blob_u64_get(val + 22);
    m->id_len = val[BLOB_MANIFEST_FIXED];
    memcpy(m->dataset_id, val + BLOB_MANIFEST_FIXED + 1, m->id_len);
    m->dataset_id[m->id_len] = '\0';
    if (m->chunk_count != blob_chunk_count(m->size) ||
        m->present > m->chunk_count ||
        (m->state == BLOB_STATE_COMPLETE) != (m->present == m->chunk_count) ||
        strlen(m->dataset_id) != m->id_len) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "manifest record is inconsistent (size %" PRIu64
                           ", %" PRIu64 " of %" PRIu64 " chunks)",
                           m->size, m->present, m->chunk_count);
    }
    return 0;
}

/* Read and decode the manifest of @root in @txn.
 * Returns: 0, TDEI_NOTFOUND, TDEI_CORRUPT or TDEI_IOERR. */
static int blob_manifest_get(struct blob_store *s, MDB_txn *txn,
                             const uint8_t root[BLOB_ROOT_SIZE],
                             struct blob_manifest *m, char *errmsg)
{
    MDB_val key = {.mv_size = BLOB_ROOT_SIZE, .mv_data = (void *)root};
    MDB_val val;
    char text[17];
    int rc = mdb_get(txn, s->manifests, &key, &val);

    if (rc == MDB_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "no blob %s... in %s", blob_root_text(root, text),
                           s->dir);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "read manifest %s...: %s",
                           blob_root_text(root, text), mdb_strerror(rc));
    }
    rc = blob_manifest_decode(m, val.mv_data, val.mv_size, errmsg);
    if (rc != 0) {
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc, "blob %s...",
                            blob_root_text(root, text));
    }
    return 0;
}

/* ---- transactions -------------------------------------------------------- */

/* The work of one write transaction. Returns 0 or a TDEI code with
 * @errmsg; *@mdb_rc holds the LMDB code of a failed LMDB call (so that a
 * full map is retried). Must not keep state between attempts. */
typedef int (*blob_write_fn)(struct blob_store *s, MDB_txn *txn, void *arg,
                             int *mdb_rc, char *errmsg);

static int blob_put(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
                    size_t klen, const uint8_t *val, size_t vlen, int *mdb_rc,
                    const char *what, char *errmsg)
{
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v = {.mv_size = vlen, .mv_data = (void *)val};
    int rc = mdb_put(txn, dbi, &k, &v, 0);

    if (rc != 0) {
        *mdb_rc = rc;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "put %s: %s", what, mdb_strerror(rc));
    }
    return 0;
}

static int blob_grow(struct blob_store *s, char *errmsg)
{
    uint64_t old = s->map_size;
    uint64_t size = old + BLOB_MAP_SIZE_GROWTH;
    MDB_envinfo info;
    int rc;

    if (old >= s->map_size_max) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOSPACE,
                           "blob map of %s is full at %" PRIu64
                           " bytes; raise the blob map_size_max",
                           s->dir, old);
    }
    if (size > s->map_size_max) {
        size = s->map_size_max;
    }
    rc = mdb_env_set_mapsize(s->env, (size_t)size);
    if (rc == 0) {
        rc = mdb_env_info(s->env, &info);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "grow blob map of %s from %" PRIu64 " to %" PRIu64
                           " bytes: %s",
                           s->dir, old, size, mdb_strerror(rc));
    }
    s->map_size = info.me_mapsize;
    TDEI_ASSERT(s->map_size > old);
    return 0;
}

/* Run @fn in one write transaction and commit it durably, growing the map
 * and retrying while it is full (bounded: each retry grows the map, which
 * stops at map_size_max). */
static int blob_write(struct blob_store *s, blob_write_fn fn, void *arg,
                      char *errmsg)
{
    for (;;) {
        MDB_txn *txn = NULL;
        int mdb_rc = 0;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

        if (rc != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "begin write in %s: %s", s->dir,
                               mdb_strerror(rc));
        }
        rc = fn(s, txn, arg, &mdb_rc, errmsg);
        if (rc != 0) {
            mdb_txn_abort(txn);
        } else {
            mdb_rc = mdb_txn_commit(txn);
            if (mdb_rc != 0) {
                rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(mdb_rc),
                                 "commit to %s: %s", s->dir,
                                 mdb_strerror(mdb_rc));
            }
        }
        if (mdb_rc != MDB_MAP_FULL) {
            return rc;
        }
        rc = blob_grow(s, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
}

static int blob_read_begin(struct blob_store *s, MDB_txn **txn, char *errmsg)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);

    if (rc != 0) {
        *txn = NULL;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "begin read in %s: %s", s->dir, mdb_strerror(rc));
    }
    return 0;
}

/* ---- open and close ------------------------------------------------------ */

static int blob_make_dir(const char *dir, char *errmsg)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "create blob dir %s: %s; check that its parent "
                           "exists and is writable",
                           dir, strerror(err));
    }
    if (stat(dir, &st) != 0) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "stat blob dir %s: %s", dir, strerror(err));
    }
    if (!S_ISDIR(st.st_mode)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "blob dir %s is not a directory; move the file "
                           "away",
                           dir);
    }
    return 0;
}

static int blob_dbs_open(struct blob_store *s, char *errmsg)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);

    if (rc == 0) {
        rc = mdb_dbi_open(txn, "chunks", MDB_CREATE, &s->chunks);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "leaves", MDB_CREATE, &s->leaves);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "manifests", MDB_CREATE, &s->manifests);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->meta);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &s->keys);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "delivery", MDB_CREATE, &s->delivery);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "transfers", MDB_CREATE, &s->transfers);
    }
    if (rc == 0) {
        rc = store_meta_version(txn, s->meta, BLOB_META_VERSION_KEY,
                                BLOB_FORMAT_VERSION);
        if (rc == TDEI_VERSION) {
            mdb_txn_abort(txn);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_VERSION,
                               "blob store %s has another format version "
                               "(this tdei reads version %u)",
                               s->dir, BLOB_FORMAT_VERSION);
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
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "open databases of %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    return 0;
}

static int blob_env_open(struct blob_store *s, char *errmsg)
{
    MDB_envinfo info;
    uint64_t initial = BLOB_MAP_SIZE_INITIAL;
    int rc = mdb_env_create(&s->env);

    if (rc != 0) {
        s->env = NULL;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "create LMDB environment: %s", mdb_strerror(rc));
    }
    rc = mdb_env_set_maxdbs(s->env, BLOB_DBS);
    if (rc == 0) {
        rc = mdb_env_open(s->env, s->dir, MDB_NOTLS, 0600);
    }
    if (rc == 0) {
        rc = mdb_env_info(s->env, &info);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "open LMDB environment in %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    /* Keep the size the map had grown to, within map_size_max. */
    if (initial < info.me_mapsize) {
        initial = info.me_mapsize;
    }
    if (initial > s->map_size_max) {
        initial = s->map_size_max; /* LMDB keeps at least the data */
    }
    rc = mdb_env_set_mapsize(s->env, (size_t)initial);
    if (rc == 0) {
        rc = mdb_env_info(s->env, &info);
    }
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "set map size of %s: %s", s->dir,
                           mdb_strerror(rc));
    }
    s->map_size = info.me_mapsize;
    (void)mdb_reader_check(s->env, NULL);
    return 0;
}

void blob_store_close(struct blob_store *store)
{
    if (store == NULL) {
        return;
    }
    if (store->env != NULL) {
        mdb_env_close(store->env);
    }
    if (store->lock_fd >= 0) {
        (void)close(store->lock_fd);
    }
    tdei_free(store->cache_leaves);
    tdei_free(store->dir);
    tdei_free(store);
}

int blob_store_open(struct blob_store **out, const char *path,
                    uint64_t map_size_max, char *errmsg)
{
    struct blob_store *s;
    int rc;

    *out = NULL;
    if (map_size_max < BLOB_MAP_SIZE_MIN ||
        map_size_max > BLOB_MAP_SIZE_LIMIT) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CONFIG,
                           "blob map_size_max=%" PRIu64
                           " is outside %llu-%llu bytes",
                           map_size_max, BLOB_MAP_SIZE_MIN,
                           BLOB_MAP_SIZE_LIMIT);
    }
    if (strlen(path) == 0 || strlen(path) >= BLOB_PATH_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "blob dir path of %zu bytes is outside 1-%u "
                           "bytes",
                           strlen(path), BLOB_PATH_MAX - 1);
    }
    s = tdei_calloc(1, sizeof(*s));
    if (s == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "open blob store %s: out of memory", path);
    }
    s->lock_fd = -1;
    s->map_size_max = map_size_max;
    s->dir = tdei_strdup(path);
    if (s->dir == NULL) {
        blob_store_close(s);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "open blob store %s: out of memory", path);
    }
    rc = blob_make_dir(s->dir, errmsg);
    if (rc == 0) {
        rc = tdei_dir_lock(s->dir, BLOB_LOCK_NAME, "blob dir", &s->lock_fd, errmsg);
    }
    if (rc == 0) {
        rc = blob_env_open(s, errmsg);
    }
    if (rc == 0) {
        rc = blob_dbs_open(s, errmsg);
    }
    if (rc != 0) {
        blob_store_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- removing a blob ----------------------------------------------------- */

struct blob_remove_arg
{
    const uint8_t *root;
};

static int blob_del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *root,
                           int *mdb_rc, char *errmsg)
{
    MDB_cursor *cur = NULL;
    uint8_t start[BLOB_CHUNK_KEY_SIZE];
    MDB_val key;
    MDB_val val;
    int rc = mdb_cursor_open(txn, dbi, &cur);

    blob_chunk_key(start, root, 0);
    /* Bounded by the records under @root (at most one per chunk): each
     * round deletes one, then looks up the first remaining one. */
    while (rc == 0) {
        key.mv_size = sizeof(start);
        key.mv_data = start;
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc != 0 || key.mv_size != BLOB_CHUNK_KEY_SIZE ||
            memcmp(key.mv_data, root, BLOB_ROOT_SIZE) != 0) {
            break;
        }
        rc = mdb_cursor_del(cur, 0);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *mdb_rc = rc;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "remove records: %s", mdb_strerror(rc));
    }
    return 0;
}

static int blob_remove_fn(struct blob_store *s, MDB_txn *txn, void *arg,
                          int *mdb_rc, char *errmsg)
{
    struct blob_remove_arg *a = arg;
    MDB_val key = {.mv_size = BLOB_ROOT_SIZE, .mv_data = (void *)a->root};
    int rc = blob_del_prefix(txn, s->chunks, a->root, mdb_rc, errmsg);

    if (rc == 0) {
        rc = blob_del_prefix(txn, s->leaves, a->root, mdb_rc, errmsg);
    }
    if (rc == 0) {
        rc = mdb_del(txn, s->manifests, &key, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            *mdb_rc = rc;
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "remove manifest: %s", mdb_strerror(rc));
        }
        rc = mdb_del(txn, s->keys, &key, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            *mdb_rc = rc;
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                               "remove content key: %s", mdb_strerror(rc));
        }
        rc = 0;
    }
    return rc;
}

/* ---- import -------------------------------------------------------------- */

/* Read exactly @len bytes at @offset of @fd. Returns 0 or an errno value
 * (EIO for a file that ended early). */
static int blob_pread_full(int fd, uint8_t *buf, size_t len, uint64_t offset)
{
    size_t done = 0;

    while (done < len) { /* bounded: each round reads >= 1 byte or ends */
        ssize_t n = pread(fd, buf + done, len - done,
                          (off_t)(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return errno;
        }
        if (n == 0) {
            return EIO;
        }
        done += (size_t)n;
    }
    return 0;
}

struct blob_import
{
    int fd;
    const char *path;
    const char *dataset_id;
    uint32_t version;
    uint64_t size;
    uint64_t count;
    uint8_t key[BLOB_KEY_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    uint8_t (*leaves)[MERKLE_HASH_SIZE]; /* count leaf hashes */
    uint8_t *plain;                      /* BLOB_CHUNK_SIZE */
    uint8_t *batch;        /* BLOB_IMPORT_BATCH sealed chunks */
    size_t lens[BLOB_IMPORT_BATCH];
    uint64_t first;        /* index of batch[0] */
    size_t n;              /* chunks in the batch */
};

/* Read and seal chunk @index into @out; return its length in @len. */
static int blob_import_seal(struct blob_import *im, uint64_t index,
                            uint8_t *out, size_t *len, char *errmsg)
{
    uint64_t offset = index * BLOB_CHUNK_SIZE;
    size_t plain_len = (size_t)(im->size - offset < BLOB_CHUNK_SIZE
                                    ? im->size - offset
                                    : BLOB_CHUNK_SIZE);
    int err = blob_pread_full(im->fd, im->plain, plain_len, offset);

    if (err != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "read %s at %" PRIu64 ": %s%s", im->path, offset,
                           strerror(err),
                           err == EIO ? " (did the file shrink?)" : "");
    }
    return blob_chunk_seal(out, len, im->plain, plain_len, im->key,
                           im->dataset_id, im->version, index, errmsg);
}

static int blob_import_batch_fn(struct blob_store *s, MDB_txn *txn, void *arg,
                                int *mdb_rc, char *errmsg)
{
    struct blob_import *im = arg;
    uint8_t key[BLOB_CHUNK_KEY_SIZE];
    uint8_t record[BLOB_MANIFEST_MAX];
    struct blob_manifest m = {
        .state = BLOB_STATE_PARTIAL,
        .version = im->version,
        .size = im->size,
        .chunk_count = im->count,
        .present = im->first + im->n,
        .id_len = strlen(im->dataset_id),
    };
    size_t rlen;
    int rc = 0;

    memcpy(m.dataset_id, im->dataset_id, m.id_len + 1);
    if (m.present == m.chunk_count) {
        m.state = BLOB_STATE_COMPLETE;
    }
    for (size_t i = 0; i < im->n && rc == 0; i++) {
        blob_chunk_key(key, im->root, im->first + i);
        rc = blob_put(txn, s->chunks, key, sizeof(key),
                      im->batch + i * BLOB_SEALED_SIZE_MAX, im->lens[i],
                      mdb_rc, "chunk", errmsg);
        if (rc == 0) {
            rc = blob_put(txn, s->leaves, key, sizeof(key),
                          im->leaves[im->first + i], MERKLE_HASH_SIZE, mdb_rc,
                          "leaf", errmsg);
        }
    }
    if (rc == 0) {
        rlen = blob_manifest_encode(record, &m);
        rc = blob_put(txn, s->manifests, im->root, BLOB_ROOT_SIZE, record,
                      rlen, mdb_rc, "manifest", errmsg);
    }
    /* The key is kept exactly when the blob is complete: both in the
     * transaction of the last batch. */
    if (rc == 0 && m.state == BLOB_STATE_COMPLETE) {
        rc = blob_put(txn, s->keys, im->root, BLOB_ROOT_SIZE, im->key,
                      BLOB_KEY_SIZE, mdb_rc, "content key", errmsg);
    }
    return rc;
}

/* Pass 1: seal every chunk, keep its leaf hash, compute the root. */
static int blob_import_pass1(struct blob_import *im, char *errmsg)
{
    for (uint64_t i = 0; i < im->count; i++) {
        size_t len = 0;
        int rc = blob_import_seal(im, i, im->batch, &len, errmsg);
        if (rc != 0) {
            return rc;
        }
        merkle_leaf_hash(im->leaves[i], im->batch, len);
    }
    merkle_root(im->root, (const uint8_t(*)[MERKLE_HASH_SIZE])im->leaves,
                im->count);
    return 0;
}

/* Pass 2: seal again, check each leaf, store in batches. */
static int blob_import_pass2(struct blob_store *s, struct blob_import *im,
                             char *errmsg)
{
    for (im->first = 0; im->first < im->count; im->first += im->n) {
        uint64_t left = im->count - im->first;
        int rc;

        im->n = left < BLOB_IMPORT_BATCH ? (size_t)left : BLOB_IMPORT_BATCH;
        for (size_t i = 0; i < im->n; i++) {
            uint8_t leaf[MERKLE_HASH_SIZE];
            uint8_t *out = im->batch + i * BLOB_SEALED_SIZE_MAX;
            rc = blob_import_seal(im, im->first + i, out, &im->lens[i],
                                  errmsg);
            if (rc != 0) {
                return rc;
            }
            merkle_leaf_hash(leaf, out, im->lens[i]);
            if (!tdei_hash_equal(leaf, im->leaves[im->first + i])) {
                return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                                   "%s changed during the import (chunk "
                                   "%" PRIu64 " differs); import it again "
                                   "when it is no longer written",
                                   im->path, im->first + i);
            }
        }
        rc = blob_write(s, blob_import_batch_fn, im, errmsg);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int blob_import_open(struct blob_import *im, char *errmsg)
{
    struct stat st;

    im->fd = open(im->path, O_RDONLY | O_CLOEXEC);
    if (im->fd < 0) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "open %s: %s", im->path, strerror(err));
    }
    if (fstat(im->fd, &st) != 0) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "stat %s: %s", im->path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "%s is not a regular file; give the path of a "
                           "file",
                           im->path);
    }
    if ((uint64_t)st.st_size > BLOB_SIZE_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "%s has %" PRIu64 " bytes, more than the %llu "
                           "bytes (64 GiB) a payload may have",
                           im->path, (uint64_t)st.st_size, BLOB_SIZE_MAX);
    }
    im->size = (uint64_t)st.st_size;
    im->count = blob_chunk_count(im->size);
    return 0;
}

static int blob_import_run(struct blob_store *s, struct blob_import *im,
                           char *errmsg)
{
    struct blob_remove_arg remove = {.root = im->root};
    struct blob_manifest m;
    MDB_txn *txn = NULL;
    char text[17];
    char ignored[TDEI_ERRMSG_SIZE];
    int rc = blob_import_open(im, errmsg);

    if (rc != 0) {
        return rc;
    }
    im->leaves = tdei_malloc((size_t)im->count * MERKLE_HASH_SIZE);
    im->plain = tdei_malloc(BLOB_CHUNK_SIZE);
    im->batch = tdei_malloc((size_t)BLOB_IMPORT_BATCH * BLOB_SEALED_SIZE_MAX);
    if (im->leaves == NULL || im->plain == NULL || im->batch == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "import %s: out of memory", im->path);
    }
    randombytes_buf(im->key, sizeof(im->key));
    rc = blob_import_pass1(im, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = blob_read_begin(s, &txn, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = blob_manifest_get(s, txn, im->root, &m, errmsg);
    mdb_txn_abort(txn);
    if (rc == 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_EXISTS,
                           "blob %s... is already stored",
                           blob_root_text(im->root, text));
    }
    if (rc != TDEI_NOTFOUND) {
        return rc;
    }
    rc = blob_import_pass2(s, im, errmsg);
    if (rc != 0 && im->first > 0) {
        /* Best effort: on failure the partial manifest stays and says so. */
        (void)blob_write(s, blob_remove_fn, &remove, ignored);
    }
    return rc;
}

int blob_import_file(struct blob_store *store, const char *path,
                     const char *dataset_id, uint32_t version,
                     uint8_t key_out[BLOB_KEY_SIZE],
                     uint8_t root_out[BLOB_ROOT_SIZE], uint64_t *size_out,
                     uint64_t *count_out, char *errmsg)
{
    struct blob_import *im;
    size_t id_len;
    int rc;

    memset(key_out, 0, BLOB_KEY_SIZE);
    memset(root_out, 0, BLOB_ROOT_SIZE);
    *size_out = 0;
    *count_out = 0;
    rc = blob_id_check(dataset_id, &id_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    im = tdei_calloc(1, sizeof(*im));
    if (im == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "import %s: out of memory", path);
    }
    im->fd = -1;
    im->path = path;
    im->dataset_id = dataset_id;
    im->version = version;
    rc = blob_import_run(store, im, errmsg);
    if (rc == 0) {
        memcpy(key_out, im->key, BLOB_KEY_SIZE);
        memcpy(root_out, im->root, BLOB_ROOT_SIZE);
        *size_out = im->size;
        *count_out = im->count;
    }
    if (im->fd >= 0) {
        (void)close(im->fd);
    }
    if (im->plain != NULL) {
        sodium_memzero(im->plain, BLOB_CHUNK_SIZE);
    }
    sodium_memzero(im->key, sizeof(im->key));
    tdei_free(im->leaves);
    tdei_free(im->plain);
    tdei_free(im->batch);
    tdei_free(im);
    return rc;
}

/* ---- consumer: expect, put, missing -------------------------------------- */

struct blob_expect_arg
{
    const uint8_t *root;
    const struct blob_manifest *m;
};

static int blob_expect_fn(struct blob_store *s, MDB_txn *txn, void *arg,
                          int *mdb_rc, char *errmsg)
{
    struct blob_expect_arg *a = arg;
    struct blob_manifest old;
    uint8_t record[BLOB_MANIFEST_MAX];
    char text[17];
    size_t rlen;
    int rc = blob_manifest_get(s, txn, a->root, &old, errmsg);

    if (rc == 0) {
        if (old.version != a->m->version || old.size != a->m->size ||
            old.chunk_count != a->m->chunk_count ||
            strcmp(old.dataset_id, a->m->dataset_id) != 0) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_EXISTS,
                               "blob %s... is already recorded as %s v%" PRIu32
                               " of %" PRIu64 " bytes",
                               blob_root_text(a->root, text), old.dataset_id,
                               old.version, old.size);
        }
        return 0; /* idempotent */
    }
    if (rc != TDEI_NOTFOUND) {
        return rc;
    }
    rlen = blob_manifest_encode(record, a->m);
    return blob_put(txn, s->manifests, a->root, BLOB_ROOT_SIZE, record, rlen,
                    mdb_rc, "manifest", errmsg);
}

int blob_expect(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
                const char *dataset_id, uint32_t version, uint64_t size,
                uint64_t chunk_count, char *errmsg)
{
    struct blob_manifest m = {
        .state = BLOB_STATE_PARTIAL,
        .version = version,
        .size = size,
        .chunk_count = chunk_count,
        .present = 0,
    };
    struct blob_expect_arg arg = {.root = root, .m = &m};
    int rc = blob_id_check(dataset_id, &m.id_len, errmsg);

    if (rc != 0) {
        return rc;
    }
    if (size > BLOB_SIZE_MAX || chunk_count != blob_chunk_count(size)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "a payload of %" PRIu64 " bytes (at most %llu) "
                           "has %" PRIu64 " chunks, not %" PRIu64,
                           size, BLOB_SIZE_MAX, blob_chunk_count(size),
                           chunk_count);
    }
    memcpy(m.dataset_id, dataset_id, m.id_len + 1);
    return blob_write(store, blob_expect_fn, &arg, errmsg);
}

struct blob_put_arg
{
    const uint8_t *root;
    struct blob_chunk_in *chunks;
    size_t n;
};

/* Check and store one chunk of @a in @txn against the manifest @m (its
 * present count grows). A refusal is the chunk's own outcome (rc 0 with
 * c->rc set); only a store failure is returned. */
static int blob_put_one(struct blob_store *s, MDB_txn *txn, const uint8_t *root,
                        struct blob_manifest *m, struct blob_chunk_in *c,
                        int *mdb_rc, char *errmsg)
{
    uint8_t key[BLOB_CHUNK_KEY_SIZE];
    uint8_t leaf[MERKLE_HASH_SIZE];
    MDB_val k = {.mv_size = sizeof(key), .mv_data = key};
    MDB_val v;
    int rc;

    c->rc = blob_chunk_check(root, m->chunk_count, c->index, c->sealed, c->len,
                             c->proof, c->errmsg);
    if (c->rc != 0) {
        return 0;
    }
    blob_chunk_key(key, root, c->index);
    rc = mdb_get(txn, s->leaves, &k, &v);
    if (rc == 0) {
        return 0; /* a duplicate: already stored */
    }
    if (rc != MDB_NOTFOUND) {
        *mdb_rc = rc;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "read leaf %" PRIu64 ": %s", c->index,
                           mdb_strerror(rc));
    }
    TDEI_ASSERT(m->present < m->chunk_count);
    merkle_leaf_hash(leaf, c->sealed, c->len);
    rc = blob_put(txn, s->chunks, key, sizeof(key), c->sealed, c->len, mdb_rc,
                  "chunk", errmsg);
    if (rc == 0) {
        rc = blob_put(txn, s->leaves, key, sizeof(key), leaf, sizeof(leaf),
                      mdb_rc, "leaf", errmsg);
    }
    if (rc == 0) {
        c->is_new = 1;
        m->present++;
    }
    return rc;
}

static int blob_put_fn(struct blob_store *s, MDB_txn *txn, void *arg,
                       int *mdb_rc, char *errmsg)
{
    struct blob_put_arg *a = arg;
    struct blob_manifest m;
    uint8_t record[BLOB_MANIFEST_MAX];
    uint64_t before;
    size_t rlen;
    int rc = blob_manifest_get(s, txn, a->root, &m, errmsg);

    if (rc != 0) {
        return rc;
    }
    before = m.present;
    /* Every attempt starts from nothing (a full map runs this again). */
    for (size_t i = 0; i < a->n; i++) {
        a->chunks[i].rc = 0;
        a->chunks[i].is_new = 0;
        a->chunks[i].errmsg[0] = '\0';
    }
    for (size_t i = 0; i < a->n && rc == 0; i++) {
        rc = blob_put_one(s, txn, a->root, &m, &a->chunks[i], mdb_rc, errmsg);
    }
    if (rc != 0 || m.present == before) {
        return rc;
    }
    if (m.present == m.chunk_count) {
        m.state = BLOB_STATE_COMPLETE;
    }
    rlen = blob_manifest_encode(record, &m);
    return blob_put(txn, s->manifests, a->root, BLOB_ROOT_SIZE, record, rlen,
                    mdb_rc, "manifest", errmsg);
}

int blob_put_chunks(struct blob_store *store,
                    const uint8_t root[BLOB_ROOT_SIZE],
                    struct blob_chunk_in *chunks, size_t n, char *errmsg)
{
    struct blob_put_arg arg = {.root = root, .chunks = chunks, .n = n};
    char text[17];
    int rc;

    TDEI_ASSERT(n <= BLOB_PUT_MAX);
    rc = blob_write(store, blob_put_fn, &arg, errmsg);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++) {
            chunks[i].is_new = 0; /* the transaction did not commit */
        }
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc,
                            "put %zu chunks of %s...", n,
                            blob_root_text(root, text));
    }
    return 0;
}

int blob_put_chunk(struct blob_store *store,
                   const uint8_t root[BLOB_ROOT_SIZE], uint64_t index,
                   const uint8_t *sealed, size_t len,
                   const struct merkle_inclusion *proof, char *errmsg)
{
    struct blob_chunk_in c = {
        .index = index,
        .sealed = sealed,
        .len = len,
        .proof = proof,
    };
    char text[17];
    int rc = blob_put_chunks(store, root, &c, 1, errmsg);

    if (rc == 0 && c.rc != 0) {
        memcpy(errmsg, c.errmsg, TDEI_ERRMSG_SIZE);
        rc = tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, c.rc,
                          "put chunk %" PRIu64 " of %s...", index,
                          blob_root_text(root, text));
    }
    return rc;
}

int blob_missing(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
                 uint64_t *indexes, size_t cap, size_t *n, char *errmsg)
{
    struct blob_manifest m;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    uint8_t start[BLOB_CHUNK_KEY_SIZE];
    MDB_val key = {.mv_size = sizeof(start), .mv_data = start};
    MDB_val val;
    uint64_t next = 0; /* the first index not yet accounted for */
    int rc;

    *n = 0;
    rc = blob_read_begin(store, &txn, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = blob_manifest_get(store, txn, root, &m, errmsg);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, store->leaves, &cur);
        if (rc != 0) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                             "open cursor: %s", mdb_strerror(rc));
        }
    }
    if (rc == 0) {
        int mrc;
        blob_chunk_key(start, root, 0);
        mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        /* Bounded: one step per stored chunk of @root, and each gap adds
         * at most @cap indexes. */
        while (*n < cap && mrc == 0 && key.mv_size == BLOB_CHUNK_KEY_SIZE &&
               memcmp(key.mv_data, root, BLOB_ROOT_SIZE) == 0) {
            uint64_t have = blob_u64_get((const uint8_t *)key.mv_data +
                                         BLOB_ROOT_SIZE);
            if (have >= m.chunk_count) {
                break; /* stray record: the manifest decides */
            }
            while (next < have && *n < cap) {
                indexes[(*n)++] = next++;
            }
            next = have + 1;
            mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
        }
        if (mrc != 0 && mrc != MDB_NOTFOUND) {
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(mrc),
                             "list leaves: %s", mdb_strerror(mrc));
        }
        while (rc == 0 && next < m.chunk_count && *n < cap) {
            indexes[(*n)++] = next++;
        }
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc != 0) {
        *n = 0;
    }
    return rc;
}

/* ---- owner: serving chunks ----------------------------------------------- */

/* Load the leaves of the complete blob @root (@count of them) into the
 * cache, with every level of its tree above them (merkle_levels_build),
 * unless they are there already: each proof served is then read, not
 * hashed. */
static int blob_cache_leaves(struct blob_store *s, MDB_txn *txn,
                             const uint8_t root[BLOB_ROOT_SIZE],
                             uint64_t count, char *errmsg)
{
    MDB_cursor *cur = NULL;
    uint8_t start[BLOB_CHUNK_KEY_SIZE];
    MDB_val key = {.mv_size = sizeof(start), .mv_data = start};
    MDB_val val;
    uint64_t i = 0;
    int rc;

    if (s->cache_leaves != NULL && s->cache_count == count &&
        memcmp(s->cache_root, root, BLOB_ROOT_SIZE) == 0) {
        return 0;
    }
    tdei_free(s->cache_leaves);
    s->cache_leaves =
        tdei_malloc((size_t)merkle_levels_count(count) * MERKLE_HASH_SIZE);
    if (s->cache_leaves == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "leaves of %" PRIu64 " chunks: out of memory",
                           count);
    }
    rc = mdb_cursor_open(txn, s->leaves, &cur);
    blob_chunk_key(start, root, 0);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    }
    while (rc == 0 && i < count && key.mv_size == BLOB_CHUNK_KEY_SIZE &&
           memcmp(key.mv_data, root, BLOB_ROOT_SIZE) == 0) {
        if (blob_u64_get((const uint8_t *)key.mv_data + BLOB_ROOT_SIZE) !=
                i ||
            val.mv_size != MERKLE_HASH_SIZE) {
            break;
        }
        memcpy(s->cache_leaves[i++], val.mv_data, MERKLE_HASH_SIZE);
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                         "read leaves: %s", mdb_strerror(rc));
    } else if (i != count) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                         "leaf records stop at %" PRIu64 " of %" PRIu64
                         " in a complete blob",
                         i, count);
    } else {
        rc = 0;
    }
    if (rc != 0) {
        tdei_free(s->cache_leaves);
        s->cache_leaves = NULL;
        return rc;
    }
    merkle_levels_build(s->cache_leaves, count);
    memcpy(s->cache_root, root, BLOB_ROOT_SIZE);
    s->cache_count = count;
    return 0;
}

static int blob_get_run(struct blob_store *s, MDB_txn *txn,
                        const uint8_t root[BLOB_ROOT_SIZE], uint64_t index,
                        uint8_t *sealed, size_t *len,
                        struct merkle_inclusion *proof, char *errmsg)
{
    struct blob_manifest m;
    uint8_t key[BLOB_CHUNK_KEY_SIZE];
    MDB_val k = {.mv_size = sizeof(key), .mv_data = key};
    MDB_val v;
    int rc = blob_manifest_get(s, txn, root, &m, errmsg);

    if (rc != 0) {
        return rc;
    }
    if (m.state != BLOB_STATE_COMPLETE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "blob is partial (%" PRIu64 " of %" PRIu64
                           " chunks); only complete blobs are served",
                           m.present, m.chunk_count);
    }
    if (index >= m.chunk_count) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "chunk %" PRIu64 " is outside 0-%" PRIu64, index,
                           m.chunk_count - 1);
    }
    blob_chunk_key(key, root, index);
    rc = mdb_get(txn, s->chunks, &k, &v);
    if (rc != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                           rc == MDB_NOTFOUND ? TDEI_CORRUPT : store_code(rc),
                           "read chunk %" PRIu64 " of a complete blob: %s",
                           index, mdb_strerror(rc));
    }
    rc = blob_length_check(m.chunk_count, index, v.mv_size, errmsg);
    if (rc != 0) {
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT, "stored");
    }
    rc = blob_cache_leaves(s, txn, root, m.chunk_count, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = merkle_levels_prove(
        proof, (const uint8_t(*)[MERKLE_HASH_SIZE])s->cache_leaves,
        m.chunk_count, index);
    TDEI_ASSERT(rc == 0);
    memcpy(sealed, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

int blob_get_chunk(struct blob_store *store,
                   const uint8_t root[BLOB_ROOT_SIZE], uint64_t index,
                   uint8_t *sealed, size_t *len,
                   struct merkle_inclusion *proof, char *errmsg)
{
    MDB_txn *txn = NULL;
    char text[17];
    int rc;

    *len = 0;
    memset(proof, 0, sizeof(*proof));
    rc = blob_read_begin(store, &txn, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = blob_get_run(store, txn, root, index, sealed, len, proof, errmsg);
    mdb_txn_abort(txn);
    if (rc != 0) {
        *len = 0;
        memset(proof, 0, sizeof(*proof));
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc,
                            "get chunk %" PRIu64 " of %s...", index,
                            blob_root_text(root, text));
    }
    return 0;
}

/* ---- export -------------------------------------------------------------- */

struct blob_export
{
    int fd;
    const char *tmp;
    const uint8_t *root;
    const uint8_t *key;
    uint8_t *plain;                      /* BLOB_CHUNK_SIZE */
    uint8_t (*leaves)[MERKLE_HASH_SIZE]; /* chunk_count */
};

/* Decrypt the chunks of @m in @txn into @ex->fd, checking the root. */
static int blob_export_chunks(struct blob_store *s, MDB_txn *txn,
                              const struct blob_manifest *m,
                              struct blob_export *ex, char *errmsg)
{
    MDB_cursor *cur = NULL;
    uint8_t start[BLOB_CHUNK_KEY_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    MDB_val key = {.mv_size = sizeof(start), .mv_data = start};
    MDB_val val;
    uint64_t i = 0;
    uint64_t written = 0;
    int rc = mdb_cursor_open(txn, s->chunks, &cur);

    blob_chunk_key(start, ex->root, 0);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    }
    while (rc == 0 && i < m->chunk_count &&
           key.mv_size == BLOB_CHUNK_KEY_SIZE &&
           memcmp(key.mv_data, ex->root, BLOB_ROOT_SIZE) == 0) {
        size_t plain_len = 0;
        int err;
        if (blob_u64_get((const uint8_t *)key.mv_data + BLOB_ROOT_SIZE) != i ||
            blob_length_check(m->chunk_count, i, val.mv_size, errmsg) != 0) {
            break;
        }
        merkle_leaf_hash(ex->leaves[i], val.mv_data, val.mv_size);
        err = blob_chunk_open(ex->plain, &plain_len, val.mv_data, val.mv_size,
                              ex->key, m->dataset_id, m->version, i, errmsg);
        if (err != 0) {
            mdb_cursor_close(cur);
            return err;
        }
        err = tdei_write_all(ex->fd, ex->plain, plain_len);
        if (err != 0) {
            mdb_cursor_close(cur);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                               "write %s: %s", ex->tmp, strerror(err));
        }
        written += plain_len;
        i++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "read chunks: %s", mdb_strerror(rc));
    }
    if (i != m->chunk_count || written != m->size) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "stored chunks stop or break the length rules at "
                           "%" PRIu64 " of %" PRIu64,
                           i, m->chunk_count);
    }
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])ex->leaves, i);
    if (!tdei_hash_equal(root, ex->root)) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "stored chunks do not hash to the content root");
    }
    return 0;
}

/* Open the temporary file, write every chunk, fsync and close it. */
static int blob_export_run(struct blob_store *s, MDB_txn *txn,
                           const struct blob_manifest *m,
                           struct blob_export *ex, char *errmsg)
{
    int rc;

    if (m->state != BLOB_STATE_COMPLETE) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND,
                           "blob is partial (%" PRIu64 " of %" PRIu64
                           " chunks); fetch the missing chunks first",
                           m->present, m->chunk_count);
    }
    ex->plain = tdei_malloc(BLOB_CHUNK_SIZE);
    ex->leaves = tdei_malloc((size_t)m->chunk_count * MERKLE_HASH_SIZE);
    if (ex->plain == NULL || ex->leaves == NULL) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "export: out of memory");
    }
    ex->fd = open(ex->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (ex->fd < 0) {
        int err = errno;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                           "create %s: %s", ex->tmp, strerror(err));
    }
    rc = blob_export_chunks(s, txn, m, ex, errmsg);
    if (rc == 0 && fsync(ex->fd) != 0) {
        int err = errno;
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                         "fsync %s: %s", ex->tmp, strerror(err));
    }
    if (close(ex->fd) != 0 && rc == 0) {
        int err = errno;
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                         "close %s: %s", ex->tmp, strerror(err));
    }
    ex->fd = -1;
    return rc;
}

int blob_export_file(struct blob_store *store,
                     const uint8_t root[BLOB_ROOT_SIZE],
                     const uint8_t key[BLOB_KEY_SIZE], const char *out_path,
                     char *errmsg)
{
    char tmp[BLOB_PATH_MAX + 8];
    struct blob_export ex = {.fd = -1, .tmp = tmp, .root = root, .key = key};
    struct blob_manifest m;
    MDB_txn *txn = NULL;
    char text[17];
    int rc;

    if (strlen(out_path) == 0 || strlen(out_path) >= BLOB_PATH_MAX) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_INVAL,
                           "output path of %zu bytes is outside 1-%u bytes",
                           strlen(out_path), BLOB_PATH_MAX - 1);
    }
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", out_path);
    rc = blob_read_begin(store, &txn, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = blob_manifest_get(store, txn, root, &m, errmsg);
    if (rc == 0) {
        rc = blob_export_run(store, txn, &m, &ex, errmsg);
    }
    mdb_txn_abort(txn);
    if (rc == 0 && rename(tmp, out_path) != 0) {
        int err = errno;
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(err),
                         "rename %s to %s: %s", tmp, out_path, strerror(err));
    }
    if (ex.fd >= 0) {
        (void)close(ex.fd);
    }
    if (ex.plain != NULL) {
        sodium_memzero(ex.plain, BLOB_CHUNK_SIZE);
    }
    tdei_free(ex.plain);
    tdei_free(ex.leaves);
    if (rc != 0) {
        (void)unlink(tmp);
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc, "export %s... to %s",
                            blob_root_text(root, text), out_path);
    }
    tdei_sync_parent_dir(out_path);
    return 0;
}

int blob_info(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
              struct blob_info *out)
{
    char errmsg[TDEI_ERRMSG_SIZE];
    struct blob_manifest m;
    MDB_txn *txn = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = blob_read_begin(store, &txn, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = blob_manifest_get(store, txn, root, &m, errmsg);
    mdb_txn_abort(txn);
    if (rc != 0) {
        return rc;
    }
    out->state = (enum blob_state)m.state;
    memcpy(out->dataset_id, m.dataset_id, m.id_len + 1);
    out->version = m.version;
    out->size = m.size;
    out->chunk_count = m.chunk_count;
    out->chunks_present = m.present;
    return 0;
}

/* ---- the node's records: keys, delivery settings, transfers -------------- */

/* Read the value of @key (@klen bytes) in @dbi into @out, which must be
 * exactly @size bytes long. Returns 0, TDEI_NOTFOUND, TDEI_CORRUPT (another
 * length) or a store code. */
static int blob_record_get(struct blob_store *s, MDB_dbi dbi,
                           const uint8_t *key, size_t klen, uint8_t *out,
                           size_t size, const char *what, char *errmsg)
{
    MDB_txn *txn = NULL;
    MDB_val k = {.mv_size = klen, .mv_data = (void *)key};
    MDB_val v;
    int rc = blob_read_begin(s, &txn, errmsg);

    if (rc != 0) {
        return rc;
    }
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        rc =
            tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOTFOUND, "no %s", what);
    } else if (rc != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                         "read %s: %s", what, mdb_strerror(rc));
    } else if (v.mv_size != size) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                         "%s record has %zu bytes, not %zu", what, v.mv_size,
                         size);
    } else {
        memcpy(out, v.mv_data, size);
    }
    mdb_txn_abort(txn);
    return rc;
}

struct blob_record_arg
{
    MDB_dbi dbi;
    const uint8_t *key;
    size_t klen;
    const uint8_t *val; /* NULL: delete */
    size_t vlen;
    const char *what;
};

static int blob_record_fn(struct blob_store *s, MDB_txn *txn, void *arg,
                          int *mdb_rc, char *errmsg)
{
    struct blob_record_arg *a = arg;
    MDB_val k = {.mv_size = a->klen, .mv_data = (void *)a->key};
    int rc;

    (void)s;
    if (a->val != NULL) {
        return blob_put(txn, a->dbi, a->key, a->klen, a->val, a->vlen, mdb_rc,
                        a->what, errmsg);
    }
    rc = mdb_del(txn, a->dbi, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *mdb_rc = rc;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "delete %s: %s", a->what, mdb_strerror(rc));
    }
    return 0;
}

int blob_key_get(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
                 uint8_t key[BLOB_KEY_SIZE], char *errmsg)
{
    char text[17];
    int rc = blob_record_get(store, store->keys, root, BLOB_ROOT_SIZE, key,
                             BLOB_KEY_SIZE, "content key", errmsg);

    if (rc != 0) {
        sodium_memzero(key, BLOB_KEY_SIZE);
        return tdei_errwrap(errmsg, TDEI_ERRMSG_SIZE, rc, "blob %s...",
                            blob_root_text(root, text));
    }
    return 0;
}

int blob_delivery_set(struct blob_store *store, const char *dataset_id,
                      int manual, char *errmsg)
{
    uint8_t val = manual ? 1 : 0;
    struct blob_record_arg arg = {
        .dbi = store->delivery,
        .key = (const uint8_t *)dataset_id,
        .val = &val,
        .vlen = 1,
        .what = "delivery setting",
    };
    int rc = blob_id_check(dataset_id, &arg.klen, errmsg);

    if (rc != 0) {
        return rc;
    }
    return blob_write(store, blob_record_fn, &arg, errmsg);
}

int blob_delivery_get(struct blob_store *store, const char *dataset_id,
                      int *manual, char *errmsg)
{
    uint8_t val = 0;
    size_t len;
    int rc = blob_id_check(dataset_id, &len, errmsg);

    *manual = 0;
    if (rc == 0) {
        rc =
            blob_record_get(store, store->delivery, (const uint8_t *)dataset_id,
                            len, &val, 1, "delivery setting", errmsg);
    }
    if (rc == TDEI_NOTFOUND) {
        return 0; /* never set: automatic */
    }
    if (rc == 0 && val > 1) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                         "delivery setting of %s is %u, not 0 or 1", dataset_id,
                         val);
    }
    *manual = rc == 0 && val == 1;
    return rc;
}

int blob_transfer_put(struct blob_store *store,
                      const uint8_t root[BLOB_ROOT_SIZE],
                      const uint8_t xid[BLOB_XID_SIZE], char *errmsg)
{
    struct blob_record_arg arg = {
        .dbi = store->transfers,
        .key = root,
        .klen = BLOB_ROOT_SIZE,
        .val = xid,
        .vlen = BLOB_XID_SIZE,
        .what = "transfer",
    };

    return blob_write(store, blob_record_fn, &arg, errmsg);
}

int blob_transfer_del(struct blob_store *store,
                      const uint8_t root[BLOB_ROOT_SIZE], char *errmsg)
{
    struct blob_record_arg arg = {
        .dbi = store->transfers,
        .key = root,
        .klen = BLOB_ROOT_SIZE,
        .what = "transfer",
    };

    return blob_write(store, blob_record_fn, &arg, errmsg);
}

int blob_transfer_list(struct blob_store *store,
                       uint8_t (*roots)[BLOB_ROOT_SIZE],
                       uint8_t (*xids)[BLOB_XID_SIZE], size_t cap, size_t *n,
                       char *errmsg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val key;
    MDB_val val;
    int rc;

    *n = 0;
    rc = blob_read_begin(store, &txn, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = mdb_cursor_open(txn, store->transfers, &cur);
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    }
    /* Bounded by @cap. */
    while (rc == 0 && *n < cap) {
        if (key.mv_size != BLOB_ROOT_SIZE || val.mv_size != BLOB_XID_SIZE) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(roots[*n], key.mv_data, BLOB_ROOT_SIZE);
        memcpy(xids[*n], val.mv_data, BLOB_XID_SIZE);
        (*n)++;
        rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    if (rc == MDB_CORRUPTED) {
        *n = 0;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "a transfer record is not a 32-byte root and a "
                           "32-byte exchange id");
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        *n = 0;
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, store_code(rc),
                           "list transfers: %s", mdb_strerror(rc));
    }
    return 0;
}
