/* The payload layer of the data plane (DESIGN.md section 9): chunking,
 * sealing, content roots, and the blob store. No networking, no ledger.
 *
 * Protocol definitions (changing any of them changes every content root):
 *
 * - Chunks. A payload of `size` bytes is cut into chunks of
 *   BLOB_CHUNK_SIZE (64 KiB) bytes; the last one is shorter, and a 0-byte
 *   payload is one empty chunk. So chunk_count = max(1, ceil(size / 64 KiB)).
 *
 * - Sealing. Chunk i of version v of dataset d is sealed with
 *   XChaCha20-Poly1305-IETF (libsodium
 *   crypto_aead_xchacha20poly1305_ietf_encrypt, no additional data) under
 *   the version's 32-byte random content key, with
 *     nonce = first 24 bytes of tagged_hash("tdei/chunk",
 *             u8 len(d) || d || u32 BE v || u64 BE i)
 *   (core/hash.h tdei_tagged_hash). A sealed chunk is the ciphertext
 *   followed by its 16-byte tag: plaintext length + BLOB_TAG_SIZE bytes.
 *   The nonce binds each chunk to its dataset, version and position, so a
 *   chunk cannot be replayed at another index or in another version even
 *   under the same key (and keys are fresh per version anyway).
 *
 * - Content root. The RFC 6962 root (core/merkle.h) over the sealed chunks
 *   in order, leaf i = the whole sealed chunk i (leaf hash SHA256(0x00 ||
 *   sealed)). This is what the ledger's content_root holds, and the blob id
 *   of a payload is its content root. Anyone can check a sealed chunk
 *   against the root with its inclusion proof without the key.
 *
 * - Length rules of a sealed chunk of a blob of n chunks: every chunk but
 *   the last is exactly BLOB_SEALED_SIZE_MAX (64 KiB + 16) bytes; the last
 *   is BLOB_TAG_SIZE..BLOB_SEALED_SIZE_MAX bytes.
 *
 * The store: a second LMDB environment (DESIGN.md section 8), the
 * directory DATA/blobs, separate from the ledger, holding LOCK (flocked by
 * the process that has it open, with its pid) and LMDB's files. Named
 * databases (keys sort bytewise, so big-endian indexes sort numerically):
 *   chunks    root (32) || u64 BE index -> sealed chunk
 *   leaves    root (32) || u64 BE index -> leaf hash (32) of that chunk
 *   manifests root (32)                 -> manifest record (below)
 *   meta      "blob.version"            -> u64 BE BLOB_FORMAT_VERSION
 *   keys      root (32)                 -> content key (32): an imported
 *                                          blob's, kept exactly while it is
 *                                          complete (written with the last
 *                                          chunks, removed with the blob)
 *   delivery  dataset id                -> u8: 1 manual, 0 automatic
 *                                          delivery by the owner's node
 *   transfers root (32)                 -> exchange id (32): the blobs a
 *                                          consumer's node is pulling, to
 *                                          resume after a restart
 * The last three came after the first four without changing their
 * records, so the format version stays 1 (an older store simply gains
 * the empty databases). The content keys are secrets: the blobs directory
 * is mode 0700 like the home's keys/.
 * A leaf record exists exactly when its chunk record exists (both are
 * written and deleted in one transaction). Leaves sit in their own
 * database so that an inclusion proof reads 32 bytes per chunk rather than
 * every chunk, and so that a consumer's growing set of leaves costs one
 * small put per chunk rather than a rewrite of the manifest.
 *
 * Manifest record, version 1 (all integers big-endian):
 *   u8  record version (1)
 *   u8  state (BLOB_STATE_PARTIAL = 1, BLOB_STATE_COMPLETE = 2)
 *   u32 dataset version
 *   u64 payload size in bytes
 *   u64 chunk count
 *   u64 chunks present
 *   u8  dataset id length (1..255), then the dataset id bytes
 *
 * Map growth: like the ledger store (store/store.h), the map starts at
 * BLOB_MAP_SIZE_INITIAL (or map_size_max when smaller) and a write
 * transaction that fails with a full map is aborted, the map grows by
 * BLOB_MAP_SIZE_GROWTH up to map_size_max and the transaction is retried.
 * Every commit is durable (synced) when the call returns.
 *
 * Threads: the pure functions (blob_chunk_*) may be called from any
 * thread. A struct blob_store has no lock: one thread at a time (the
 * caller serialises; the daemon does blob I/O on a worker). Every store
 * call opens and ends its own LMDB transactions, so no read outlives a
 * call and growing the map is always safe.
 *
 * Errors: errmsg parameters are TDEI_ERRMSG_SIZE bytes; MDB_* and errno
 * codes never leave this module. Pointers are non-NULL unless stated. */
#ifndef TDEI_BLOB_BLOB_H
#define TDEI_BLOB_BLOB_H

#include "core/error.h"
#include "core/merkle.h"

#include <stddef.h>
#include <stdint.h>

#define BLOB_CHUNK_SIZE (64u * 1024u) /* plaintext bytes per chunk */
#define BLOB_TAG_SIZE 16u             /* Poly1305 tag per sealed chunk */
#define BLOB_SEALED_SIZE_MAX (BLOB_CHUNK_SIZE + BLOB_TAG_SIZE)
#define BLOB_KEY_SIZE 32u   /* content key of a version */
#define BLOB_NONCE_SIZE 24u /* XChaCha20 nonce */
#define BLOB_ROOT_SIZE MERKLE_HASH_SIZE
#define BLOB_DATASET_ID_MAX 255u /* bytes; the nonce encodes it after a u8 */
#define BLOB_TAG_CHUNK "tdei/chunk" /* tagged-hash tag of chunk nonces */

#define BLOB_XID_SIZE 32u /* an exchange id (transfers) */
#define BLOB_PUT_MAX 256u /* chunks per blob_put_chunks call at most */

/* The largest payload blob_import_file accepts: 64 GiB = 2^20 chunks, so
 * the leaf hashes an import holds in memory stay within 32 MiB. */
#define BLOB_SIZE_MAX (64ull << 30)
#define BLOB_CHUNK_COUNT_MAX (BLOB_SIZE_MAX / BLOB_CHUNK_SIZE)

/* Map sizes of the blobs environment. */
#define BLOB_MAP_SIZE_INITIAL (256ull << 20) /* 256 MiB */
#define BLOB_MAP_SIZE_GROWTH (256ull << 20)  /* 256 MiB per growth */
#define BLOB_MAP_SIZE_MIN (1ull << 20)       /* 1 MiB */
#define BLOB_MAP_SIZE_LIMIT (16ull << 40)    /* 16 TiB */

/* The on-disk format (meta "blob.version") and manifest record version. */
#define BLOB_FORMAT_VERSION 1u

_Static_assert(BLOB_CHUNK_SIZE == 64u * 1024u, "DESIGN.md section 9");
_Static_assert(BLOB_TAG_SIZE == 16u, "crypto_aead_xchacha20poly1305 ABYTES");

enum blob_state {
    BLOB_STATE_PARTIAL = 1,  /* expected or importing; chunks missing */
    BLOB_STATE_COMPLETE = 2, /* every chunk is stored */
};

/* The manifest of one blob (see blob_info). */
struct blob_info
{
    enum blob_state state;
    char dataset_id[BLOB_DATASET_ID_MAX + 1]; /* NUL-terminated */
    uint32_t version;        /* dataset version number */
    uint64_t size;           /* payload bytes (plaintext) */
    uint64_t chunk_count;    /* chunks of the payload */
    uint64_t chunks_present; /* chunks stored, 0..chunk_count */
};

struct blob_store; /* an open blobs environment */

/* ---- pure: chunks, nonces, sealing, checking ----------------------------- */

/* The number of chunks of a payload of @size bytes: max(1, ceil(size /
 * BLOB_CHUNK_SIZE)). */
uint64_t blob_chunk_count(uint64_t size);

/* Derive the nonce of chunk @index of version @version of @dataset_id (see
 * the protocol definitions above).
 * In:  @dataset_id: NUL-terminated, 1..BLOB_DATASET_ID_MAX bytes
 *      (asserted). */
void blob_chunk_nonce(uint8_t nonce[BLOB_NONCE_SIZE], const char *dataset_id,
                      uint32_t version, uint64_t index);

/* Seal the plaintext chunk @plain (@len bytes) as chunk @index.
 * Returns: 0; TDEI_TOOBIG when @len > BLOB_CHUNK_SIZE; TDEI_INVAL when the
 * dataset id is empty or longer than BLOB_DATASET_ID_MAX.
 * In:  @plain: may be NULL when @len is 0; @key: the content key.
 * Out: @sealed: @len + BLOB_TAG_SIZE bytes (room for BLOB_SEALED_SIZE_MAX
 *      is always enough); @sealed_len: that length on 0. */
int blob_chunk_seal(uint8_t *sealed, size_t *sealed_len, const uint8_t *plain,
                    size_t len, const uint8_t key[BLOB_KEY_SIZE],
                    const char *dataset_id, uint32_t version, uint64_t index,
                    char *errmsg);

/* Open the sealed chunk @sealed (@len bytes) as chunk @index.
 * Returns: 0; TDEI_BADSIG when authentication fails (wrong key, wrong
 * dataset/version/index, or altered bytes: errmsg says which chunk);
 * TDEI_MALFORMED when @len is outside BLOB_TAG_SIZE..BLOB_SEALED_SIZE_MAX;
 * TDEI_INVAL for a bad dataset id. On failure @plain holds no plaintext.
 * Out: @plain: room for @len - BLOB_TAG_SIZE bytes (BLOB_CHUNK_SIZE is
 *      always enough); @plain_len: that length on 0, else 0. */
int blob_chunk_open(uint8_t *plain, size_t *plain_len, const uint8_t *sealed,
                    size_t len, const uint8_t key[BLOB_KEY_SIZE],
                    const char *dataset_id, uint32_t version, uint64_t index,
                    char *errmsg);

/* Check a received sealed chunk against the content root before it is
 * stored: its length obeys the length rules for chunk @index of
 * @chunk_count, the proof is for (@index, @chunk_count), and it leads from
 * the chunk's leaf hash to @root.
 * Returns: 0; TDEI_INVAL (@chunk_count is 0 or @index >= @chunk_count);
 * TDEI_MALFORMED (wrong length: errmsg gives the accepted range);
 * TDEI_BADPROOF (the proof is for another index or tree size, or does not
 * lead to @root: an altered chunk or a wrong proof).
 * In:  @sealed: may be NULL only when @len is 0 (which fails). */
int blob_chunk_check(const uint8_t root[BLOB_ROOT_SIZE], uint64_t chunk_count,
                     uint64_t index, const uint8_t *sealed, size_t len,
                     const struct merkle_inclusion *proof, char *errmsg);

/* ---- the store ----------------------------------------------------------- */

/* Open (creating it, mode 0700, and the environment, when missing) the
 * blobs environment in the directory @path (DATA/blobs). Only the last
 * component of @path is created.
 * Returns: 0; TDEI_CONFIG (@map_size_max outside
 * BLOB_MAP_SIZE_MIN..BLOB_MAP_SIZE_LIMIT); TDEI_LOCKED (another process,
 * or this one, has @path open); TDEI_VERSION (another format version);
 * TDEI_CORRUPT; TDEI_PERM; TDEI_NOTFOUND (the parent is missing);
 * TDEI_IOERR; TDEI_NOSPACE; TDEI_NOMEM.
 * Out: @out: the store on 0, NULL otherwise. Close with blob_store_close.
 * In:  @path: copied. */
int blob_store_open(struct blob_store **out, const char *path,
                    uint64_t map_size_max, char *errmsg);

/* Close @store (may be NULL) and release its lock. The pointer is dead. */
void blob_store_close(struct blob_store *store);

/* Import the regular file @path as version @version of @dataset_id: draw
 * a fresh content key (randombytes_buf), seal every chunk, store chunks,
 * leaves and a complete manifest.
 *
 * Two passes over the file, 64 KiB at a time: the first seals every chunk
 * and keeps only its leaf hash (32 bytes per chunk) to find the root, the
 * second seals again (same key and nonces, so the same bytes) and stores
 * the chunks in write transactions of up to 64 chunks; the last one also
 * stores the content key in `keys`, so a complete imported blob always
 * has its key (blob_key_get). A chunk whose leaf differs in the second
 * pass means the file changed meanwhile: the import fails. On any failure after
 * the first store write everything stored under the root is removed again; if
 * even that fails (or the process dies), a manifest in state partial says so.
 * Returns: 0; TDEI_NOTFOUND (no such file); TDEI_INVAL (not a regular
 * file; bad dataset id); TDEI_TOOBIG (larger than BLOB_SIZE_MAX);
 * TDEI_PERM; TDEI_IOERR (read failed, or the file changed during import);
 * TDEI_EXISTS (the root is already stored, which needs a repeated key);
 * TDEI_NOSPACE (map at map_size_max or disk full); TDEI_NOMEM.
 * Out: @key_out (the content key: a secret, wipe it when done), @root_out,
 *      @size_out, @count_out on 0; zeroed on failure. */
int blob_import_file(struct blob_store *store, const char *path,
                     const char *dataset_id, uint32_t version,
                     uint8_t key_out[BLOB_KEY_SIZE],
                     uint8_t root_out[BLOB_ROOT_SIZE], uint64_t *size_out,
                     uint64_t *count_out, char *errmsg);

/* Record that this node wants the blob @root (a consumer's node): a
 * manifest in state partial with no chunks. Idempotent: an existing
 * manifest with the same dataset id, version, size and chunk count
 * (partial or complete) is left as it is.
 * Returns: 0; TDEI_INVAL (bad dataset id, @size > BLOB_SIZE_MAX, or
 * @chunk_count != blob_chunk_count(@size)); TDEI_EXISTS (a manifest for
 * @root with other fields); TDEI_NOSPACE; TDEI_IOERR; TDEI_CORRUPT. */
int blob_expect(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
                const char *dataset_id, uint32_t version, uint64_t size,
                uint64_t chunk_count, char *errmsg);

/* Store a received chunk of the expected blob @root after blob_chunk_check
 * against the manifest's chunk count; the manifest becomes complete with
 * its last chunk. A chunk already stored is accepted (0) and changes
 * nothing; a refused chunk stores nothing.
 * Returns: 0; TDEI_NOTFOUND (no manifest for @root: call blob_expect);
 * the codes of blob_chunk_check; TDEI_NOSPACE; TDEI_IOERR; TDEI_CORRUPT.
 * In:  @sealed, @proof: borrowed for the call. */
int blob_put_chunk(struct blob_store *store,
                   const uint8_t root[BLOB_ROOT_SIZE], uint64_t index,
                   const uint8_t *sealed, size_t len,
                   const struct merkle_inclusion *proof, char *errmsg);

/* One received chunk for blob_put_chunks. */
struct blob_chunk_in
{
    uint64_t index;                       /* in: its index */
    const uint8_t *sealed;                /* in: the sealed chunk */
    size_t len;                           /* in: its length */
    const struct merkle_inclusion *proof; /* in: its inclusion proof */
    int rc;                               /* out: 0 stored (now or before),
                                             or the blob_chunk_check code */
    int is_new;                           /* out: 1 when this call stored
                                             it */
    char errmsg[TDEI_ERRMSG_SIZE];        /* out: why, when rc is not 0 */
};

/* Store up to BLOB_PUT_MAX received chunks of the expected blob @root in
 * one write transaction (one sync for all: a consumer's node stores what
 * arrived together). Each chunk is checked as blob_put_chunk checks it
 * and gets its own outcome: a refused chunk stores nothing and does not
 * stop the others; one already stored is accepted and changes nothing.
 * Returns: 0 (see each chunk's rc and is_new); TDEI_NOTFOUND (no manifest
 * for @root); TDEI_NOSPACE; TDEI_IOERR; TDEI_CORRUPT. On failure nothing
 * is stored (every is_new is 0).
 * In:  @chunks: @n entries (@n <= BLOB_PUT_MAX, asserted), their buffers
 *      borrowed for the call; the outputs are written. */
int blob_put_chunks(struct blob_store *store,
                    const uint8_t root[BLOB_ROOT_SIZE],
                    struct blob_chunk_in *chunks, size_t n, char *errmsg);

/* List the indexes of the chunks of @root not yet stored, ascending: the
 * first @cap of them go into @indexes and *@n is their number (so a caller
 * resumes a download by asking for these, and calls again after storing
 * them when *@n == @cap). Bounded by the chunk count.
 * Returns: 0; TDEI_NOTFOUND (no manifest); TDEI_IOERR; TDEI_CORRUPT.
 * Out: @indexes: @cap entries (may be NULL when @cap is 0); @n. */
int blob_missing(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
                 uint64_t *indexes, size_t cap, size_t *n, char *errmsg);

/* Read chunk @index of the complete blob @root with its inclusion proof
 * (the owner's node serving a chunk). The proof needs every leaf, so the
 * blob must be complete; the tree of the last blob served (its leaves and
 * every level above them, about 64 bytes per chunk) is cached in the store
 * until another root is served or the store closes, so a proof costs no
 * hashing.
 * Returns: 0; TDEI_NOTFOUND (no such blob, index out of range, or the blob
 * is partial: errmsg says which); TDEI_IOERR; TDEI_CORRUPT; TDEI_NOMEM.
 * Out: @sealed: room for BLOB_SEALED_SIZE_MAX bytes; @len; @proof. */
int blob_get_chunk(struct blob_store *store,
                   const uint8_t root[BLOB_ROOT_SIZE], uint64_t index,
                   uint8_t *sealed, size_t *len,
                   struct merkle_inclusion *proof, char *errmsg);

/* Decrypt every chunk of the complete blob @root in order and write the
 * plaintext to @out_path atomically: to "@out_path.tmp", fsync, rename,
 * fsync of the directory. The leaf hashes of the chunks read are checked
 * against @root as well, so a damaged store is noticed even with the key.
 * On any failure no @out_path is created (and the .tmp is removed); an
 * existing @out_path is replaced only on success.
 * Returns: 0; TDEI_NOTFOUND (no such blob, or it is partial); TDEI_BADSIG
 * (a chunk fails authentication: wrong key or altered chunk); TDEI_CORRUPT
 * (stored chunks do not match the root or the manifest); TDEI_PERM;
 * TDEI_IOERR; TDEI_NOSPACE; TDEI_NOMEM. */
int blob_export_file(struct blob_store *store,
                     const uint8_t root[BLOB_ROOT_SIZE],
                     const uint8_t key[BLOB_KEY_SIZE], const char *out_path,
                     char *errmsg);

/* Read the manifest of @root.
 * Returns: 0; TDEI_NOTFOUND; TDEI_CORRUPT (the record does not decode);
 * TDEI_IOERR. On failure @out is zeroed. */
int blob_info(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
              struct blob_info *out);

/* ---- the node's records -------------------------------------------------- */

/* Read the content key of the imported blob @root.
 * Returns: 0; TDEI_NOTFOUND (this store never imported @root, or the
 * import did not complete); TDEI_CORRUPT; TDEI_IOERR. On failure @key is
 * zeroed.
 * Out: @key: a secret; wipe it (sodium_memzero) when done. */
int blob_key_get(struct blob_store *store, const uint8_t root[BLOB_ROOT_SIZE],
                 uint8_t key[BLOB_KEY_SIZE], char *errmsg);

/* Set the delivery of entry @dataset_id to manual (@manual 1) or
 * automatic (0), durably.
 * Returns: 0; TDEI_INVAL (an id of 0 or more than BLOB_DATASET_ID_MAX
 * bytes); TDEI_NOSPACE; TDEI_IOERR. */
int blob_delivery_set(struct blob_store *store, const char *dataset_id,
                      int manual, char *errmsg);

/* Read the delivery setting of @dataset_id into @manual: 1 manual, 0
 * automatic (also when never set).
 * Returns: 0; TDEI_INVAL (bad id); TDEI_CORRUPT; TDEI_IOERR. On failure
 * *@manual is 0. */
int blob_delivery_get(struct blob_store *store, const char *dataset_id,
                      int *manual, char *errmsg);

/* Record (replacing any earlier one) that this node pulls @root for
 * exchange @xid, or forget it; forgetting an absent record is 0.
 * Returns: 0; TDEI_NOSPACE; TDEI_IOERR. */
int blob_transfer_put(struct blob_store *store,
                      const uint8_t root[BLOB_ROOT_SIZE],
                      const uint8_t xid[BLOB_XID_SIZE], char *errmsg);
int blob_transfer_del(struct blob_store *store,
                      const uint8_t root[BLOB_ROOT_SIZE], char *errmsg);

/* List the recorded transfers in root order: the first @cap of them into
 * @roots and @xids, their number in *@n (so *@n == @cap says there may be
 * more).
 * Returns: 0; TDEI_CORRUPT (a record of the wrong size); TDEI_IOERR. On
 * failure *@n is 0.
 * Out: @roots, @xids: @cap entries each (may be NULL when @cap is 0). */
int blob_transfer_list(struct blob_store *store,
                       uint8_t (*roots)[BLOB_ROOT_SIZE],
                       uint8_t (*xids)[BLOB_XID_SIZE], size_t cap, size_t *n,
                       char *errmsg);

#endif
