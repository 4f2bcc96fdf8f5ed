/* The ledger store: one LMDB environment with the named databases of
 * DESIGN.md section 8, write batches committed in one durable transaction,
 * and snapshot reads.
 *
 * The store is generic over bytes: it does not know protobuf. Callers build
 * a batch in memory (puts and deletes, in order, in any of the databases)
 * and store_commit applies it in ONE LMDB write transaction: either all of
 * it is committed and synced to disk, or none of it (DESIGN.md section 1,
 * rule 4). Readers take a snapshot with store_read_begin and never block
 * the writer; the writer never blocks readers, except while the map grows.
 *
 * Disk layout: the directory DIR (HOME/data/ledger) holds data.mdb and
 * lock.mdb (LMDB's files) and LOCK, which holds the pid of the process
 * that has the store open; a flock on LOCK keeps a second process out.
 * The record "store.version" in the meta database holds the format version
 * (STORE_FORMAT_VERSION, a big-endian u64).
 *
 * Map growth: LMDB maps the data file at a fixed size, and a commit that
 * needs more pages fails with MDB_MAP_FULL. store_commit then grows the map
 * by map_size_growth (up to map_size_max) and retries the batch. Remapping
 * is only allowed while no read transaction of this process is open, so a
 * growth waits until the open reads end and holds new ones back until it is
 * done: keep read transactions short.
 *
 * Threads: a struct store may be used from any thread. Commits are
 * serialised inside the store. A read (struct store_read) may be begun in
 * one thread and used or ended in another (LMDB's MDB_NOTLS), but by one
 * thread at a time. The thread that began a read holds it until it is
 * ended: that thread must not begin a second read of the same store, nor
 * commit to it, meanwhile (both are asserted), because a growth waiting for
 * the first read would wait forever. A thread holding a read must likewise
 * never wait for another thread's commit.
 *
 * Errors: errmsg parameters are buffers of TDEI_ERRMSG_SIZE bytes; on
 * failure they say what failed, where, and the LMDB or system reason. MDB_*
 * codes never leave this module. Pointers are non-NULL unless stated. */
#ifndef TDEI_STORE_STORE_H
#define TDEI_STORE_STORE_H

#include "core/error.h"

#include <stddef.h>
#include <stdint.h>

/* The format of the environment; stored in meta under "store.version". */
#define STORE_FORMAT_VERSION 3u /* 3: validator-set history in state */

/* The longest key, in bytes: LMDB's compile-time key limit (checked against
 * mdb_env_get_maxkeysize at open). Keys are 1..STORE_KEY_SIZE_MAX bytes. */
#define STORE_KEY_SIZE_MAX 511u

/* The longest value, in bytes. */
#define STORE_VALUE_SIZE_MAX UINT32_MAX

/* Defaults of struct store_options (see there for the reasoning). */
#define STORE_MAP_SIZE_INITIAL_DEFAULT (256ull << 20) /* 256 MiB */
#define STORE_MAP_SIZE_GROWTH_DEFAULT (256ull << 20)  /* 256 MiB */
#define STORE_MAP_SIZE_MAX_DEFAULT (64ull << 30)      /* 64 GiB */
#define STORE_READERS_MAX_DEFAULT 126u                /* LMDB's default */

/* Accepted ranges of struct store_options. */
#define STORE_MAP_SIZE_MIN (1ull << 20)    /* 1 MiB: initial and growth */
#define STORE_MAP_SIZE_LIMIT (16ull << 40) /* 16 TiB: any map size */
#define STORE_READERS_LIMIT 4096u

/* The named databases (DESIGN.md section 8). Keys sort bytewise
 * (memcmp, a shorter key first when it is a prefix of a longer one), so
 * big-endian integers sort in numeric order. The four with a fixed layout
 * have their key (and value) sizes checked by store_batch_put. */
enum store_db {
    STORE_DB_BLOCKS = 0,    /* height (u64 BE, 8 bytes) -> block bytes */
    STORE_DB_BLOCK_IDS = 1, /* block id (32 bytes) -> height (u64 BE) */
    STORE_DB_TXS = 2,       /* tx id (32) -> height u64 BE || index u32 BE */
    STORE_DB_RESULTS = 3,   /* height u64 BE || index u32 BE -> result */
    STORE_DB_STATE = 4,     /* state key -> record */
    STORE_DB_INDEX = 5,     /* search tokens, event lists, expiry: opaque */
    STORE_DB_META = 6,      /* heights, app hash, params: opaque keys */
    STORE_DB_SIGNER = 7,    /* the double-sign guard: opaque keys */
    STORE_DB_COUNT = 8
};

/* Sizes of the fixed layouts above. */
#define STORE_HEIGHT_SIZE 8u       /* u64 big-endian */
#define STORE_ID_SIZE 32u          /* block id, tx id: SHA-256 */
#define STORE_TX_LOCATION_SIZE 12u /* height u64 BE || index u32 BE */

/* Tuning of the memory map and the reader table.
 *
 * The map is address space, not disk: without MDB_WRITEMAP LMDB grows the
 * data file only as pages are written, so a large map costs nothing but
 * virtual addresses. Growing it costs little too (munmap + mmap), but it
 * must wait for every open read to end. The defaults therefore start at
 * 256 MiB and grow by a fixed 256 MiB step: at least 32 blocks of the
 * largest size (8 MiB) between two growths, about 250 growths over a
 * 64 GiB ledger, each a short pause for readers. A fixed step, not
 * doubling, keeps the map within one step of the data, so
 * map_size_max works as a predictable disk budget: doubling from 40 GiB
 * would ask for 80 GiB at once. Reopening keeps the size the map had
 * reached (LMDB stores it) when that is above map_size_initial. */
struct store_options
{
    uint64_t map_size_initial; /* bytes, STORE_MAP_SIZE_MIN..max */
    uint64_t map_size_growth;  /* bytes per growth, >= STORE_MAP_SIZE_MIN */
    uint64_t map_size_max;     /* bytes, up to STORE_MAP_SIZE_LIMIT */
    unsigned max_readers;      /* concurrent reads, 1..STORE_READERS_LIMIT */
    int no_sync; /* 1: commits are not flushed to disk (MDB_NOSYNC), so a
                    crash may lose or damage them: only for scratch stores
                    thrown away after use (tdei audit chain's replay); the
                    ledger never sets it. Default 0. */
};

/* Statistics for /metrics (see store_stats). */
struct store_stats
{
    uint64_t map_size;     /* bytes mapped now */
    uint64_t map_size_max; /* bytes, from the options */
    uint64_t page_size;    /* bytes per LMDB page */
    uint64_t pages_used;   /* pages of the data file in use (high mark) */
    uint64_t growths;      /* map growths since open */
    uint64_t commits;      /* batches committed since open */
    uint64_t readers_open; /* reads open now */
    uint64_t entries[STORE_DB_COUNT]; /* records per database (snapshot) */
};

struct store;       /* an open environment */
struct store_batch; /* a write batch in memory */
struct store_read;  /* a read snapshot */

/* Iterator over the keys with a given prefix, in key order or reverse key
 * order, within one read. Caller's memory: initialise with store_iter_init
 * and close with store_iter_close. The fields are private. */
struct store_iter
{
    struct store_read *read;            /* the read it belongs to */
    void *cursor;                       /* MDB_cursor */
    uint8_t prefix[STORE_KEY_SIZE_MAX]; /* only keys starting with this */
    size_t prefix_len;                  /* bytes of prefix */
    int reverse;                        /* 1: descending key order */
    int state;                          /* private: see store.c */
};

/* Return the defaults: STORE_MAP_SIZE_INITIAL_DEFAULT,
 * STORE_MAP_SIZE_GROWTH_DEFAULT, STORE_MAP_SIZE_MAX_DEFAULT and
 * STORE_READERS_MAX_DEFAULT. */
struct store_options store_options_default(void);

/* Return the name of @db as used inside LMDB ("blocks", "block_ids", "txs",
 * "results", "state", "index", "meta", "signer"). @db must be valid
 * (asserted). Static string. */
const char *store_db_name(enum store_db db);

/* ---- open and close ------------------------------------------------------ */

/* Open the store in the directory @dir, creating it (mode 0700) and the
 * environment if they do not exist.
 *
 * Takes an exclusive lock on @dir/LOCK (flock, non-blocking) and writes the
 * process id into it, opens the environment (MDB_NOTLS; synced commits
 * unless @opts->no_sync), creates the named databases, and checks the
 * format version: a new store gets STORE_FORMAT_VERSION; an existing one
 * must have it. The map starts
 * at the larger of @opts->map_size_initial and the size it had reached.
 * Only the last component of @dir is created.
 *
 * Returns: 0; TDEI_CONFIG (an option is outside its range: errmsg names the
 * key "store.map_size_initial" etc. and the range); TDEI_LOCKED (another
 * process has @dir open, or this process has it open already: "data dir
 * DIR is in use by another process (pid N); stop it first");
 * TDEI_VERSION (the store has another format version, or the environment
 * was written by an incompatible LMDB); TDEI_CORRUPT (the files are not an
 * LMDB environment, or they hold records but no format version); TDEI_PERM
 * (permissions on @dir or its files); TDEI_NOTFOUND (the parent of @dir is
 * missing); TDEI_IOERR (@dir is not a directory, or another I/O failure);
 * TDEI_NOSPACE (the disk is full); TDEI_NOMEM.
 * In:    @dir: NUL-terminated path, borrowed for the call (copied).
 *        @opts: may be NULL for store_options_default(); copied.
 * Out:   @out: the store on 0, NULL otherwise (nothing stays locked or
 *        open); @errmsg on failure.
 * State: close with store_close. Do not open the same directory twice in
 *        one process (it is refused with TDEI_LOCKED), and do not use a
 *        store in a child after fork. */
int store_open(struct store **out, const char *dir,
               const struct store_options *opts, char *errmsg);

/* Close @s (may be NULL): close the environment and release the lock.
 * Every read must have ended (asserted) and no commit may be running.
 * The pointer is dead afterwards. */
void store_close(struct store *s);

/* Fill @out with the statistics of @s. Sizes and counters are read now;
 * entries[] are counted in the snapshot of @r (a read of @s), which keeps
 * the map from growing meanwhile.
 * Returns: 0, or TDEI_IOERR/TDEI_CORRUPT (message in
 * store_read_errmsg(@r)); on failure @out is zeroed.
 * Thread: any. */
int store_stats(struct store_read *r, struct store_stats *out);

/* ---- write batches ------------------------------------------------------- */

/* Create an empty batch that can hold up to @size_max bytes of encoded
 * operations (each op takes 8 bytes plus its key and value).
 * Returns: 0 or TDEI_NOMEM.
 * Out:   @out: the batch on 0, NULL otherwise.
 * State: memory grows on demand up to @size_max and is kept by
 *        store_batch_reset for reuse; free with store_batch_destroy.
 * Thread: a batch has no lock; one thread at a time. */
int store_batch_create(struct store_batch **out, size_t size_max);

/* Free @b (may be NULL). The pointer is dead afterwards. */
void store_batch_destroy(struct store_batch *b);

/* Empty @b (ops, totals and any recorded error), keeping its memory. */
void store_batch_reset(struct store_batch *b);

/* Append "put @key = @val in @db" to @b. A later op on the same key wins.
 *
 * The op is checked now, so that a bad op is refused before anything is
 * written: the key must be 1..STORE_KEY_SIZE_MAX bytes, the fixed layouts
 * of enum store_db must hold, and the batch must stay within its size_max.
 * A refused op also poisons the batch: it keeps the first error, and
 * store_commit refuses the whole batch with it (so a caller that ignores
 * one return code still cannot commit half a block). store_batch_reset
 * clears the poison.
 * Returns: 0; TDEI_TOOBIG (key longer than STORE_KEY_SIZE_MAX, value
 * longer than STORE_VALUE_SIZE_MAX, or batch over its size_max); TDEI_INVAL
 * (empty key, a key or value size that does not match the layout of @db,
 * or the reserved meta key "store.version"); TDEI_NOMEM; or the error the
 * batch was already poisoned with. The message is in
 * store_batch_errmsg(@b).
 * In:    @key, @val: copied; @val may be NULL when @vlen is 0. */
int store_batch_put(struct store_batch *b, enum store_db db, const uint8_t *key,
                    size_t klen, const uint8_t *val, size_t vlen);

/* Append "delete @key from @db" to @b; deleting a missing key is not an
 * error. Same checks, poisoning and return codes as store_batch_put.
 * In:    @key: copied. */
int store_batch_del(struct store_batch *b, enum store_db db, const uint8_t *key,
                    size_t klen);

/* Append "put the u64 @value, big-endian, under the name @name in meta"
 * (key = the bytes of @name without its NUL). As store_batch_put.
 * In:    @name: NUL-terminated, 1..STORE_KEY_SIZE_MAX bytes, copied. */
int store_meta_put_u64(struct store_batch *b, const char *name, uint64_t value);

/* Return the number of ops in @b. */
size_t store_batch_ops(const struct store_batch *b);

/* Return the bytes of keys plus values in @b (what the commit writes,
 * before LMDB's own overhead). */
size_t store_batch_bytes(const struct store_batch *b);

/* Return the message of the error @b is poisoned with, or "" when none.
 * Borrowed until @b changes. */
const char *store_batch_errmsg(const struct store_batch *b);

/* ---- commit -------------------------------------------------------------- */

/* Apply every op of @b, in order, in one write transaction and commit it
 * durably (LMDB syncs the data file and then the meta page: when this
 * returns 0 the batch survives a crash or power loss). On any error the
 * transaction is aborted and nothing of @b is written.
 *
 * When the map is full the transaction is aborted, the map grows by
 * map_size_growth (waiting for open reads to end, holding new ones back)
 * and the whole batch is retried, until it fits or the map is at
 * map_size_max. An empty batch commits nothing and returns 0.
 * Returns: 0; TDEI_NOSPACE ("ledger map is full at N bytes; raise
 * store.map_size_max": the store still works, with the data of the last
 * commit; or the disk is full); the error @b is poisoned with (nothing is
 * written); TDEI_TOOBIG (the batch dirties more pages than one LMDB
 * transaction can hold: split it); TDEI_CORRUPT; TDEI_IOERR (after an I/O
 * failure LMDB refuses further writes until the store is reopened);
 * TDEI_NOMEM.
 * In:    @b: borrowed for the call; unchanged.
 * Out:   @errmsg on failure, naming the op and the database
 *        ("commit: op 12 put state: MDB_BAD_VALSIZE: ...").
 * Thread: any; commits are serialised. The calling thread must not hold a
 *        read of @s (asserted). May block while the map grows. */
int store_commit(struct store *s, const struct store_batch *b, char *errmsg);

/* The check of store_commit_checked. Called inside the write transaction
 * with the current value of the checked key.
 * Returns: 0 to go on with the commit, or a TDEI_* code (written into
 * @errmsg, TDEI_ERRMSG_SIZE bytes) to abort it with nothing written.
 * In:    @found: 1 when the key holds a value, 0 when it is absent (then
 *        @val is NULL and @vlen 0); @val: borrowed from the map for the
 *        call only (read-only; copy what is needed).
 * Thread: the committing thread, holding the store's write lock: it must
 *        not call the store. */
typedef int (*store_commit_check_fn)(void *arg, int found, const uint8_t *val,
                                     size_t vlen, char *errmsg);

/* As store_commit, but first read the value of @key in @db inside the
 * write transaction and pass it to @check: the batch is applied only when
 * @check returns 0, so no other commit can come between what @check saw
 * and what @b writes (a compare-and-swap; the double-sign guard,
 * signer.h, keeps its record moving forward with it). An empty
 * @b still runs @check. When the map grows, the transaction is retried
 * and @check runs again. Durable as store_commit: on 0 the batch is
 * synced.
 * Returns: as store_commit, plus the code @check returned (its message in
 * @errmsg; nothing written), and TDEI_IOERR or TDEI_CORRUPT when the read
 * of @key fails.
 * In:    @key: 1..STORE_KEY_SIZE_MAX bytes (asserted), borrowed for the
 *        call; @arg: passed to @check. */
int store_commit_checked(struct store *s, const struct store_batch *b,
                         enum store_db db, const uint8_t *key, size_t klen,
                         char *errmsg, void *arg, store_commit_check_fn check);

/* ---- reads --------------------------------------------------------------- */

/* Begin a read: a consistent snapshot of the last commit, unaffected by
 * later commits until store_read_end.
 * Returns: 0; TDEI_BUSY (max_readers reads are open: end some or raise
 * store.max_readers); TDEI_IOERR (the store failed earlier and must be
 * reopened, or LMDB failed).
 * Out:   @out: the read on 0, NULL otherwise; @errmsg on failure.
 * State: reads come from a pool of max_readers made at open; this does
 *        not allocate after the first use of a pool entry. May block while
 *        the map grows. The calling thread must not hold another read of
 *        @s (asserted). */
int store_read_begin(struct store *s, struct store_read **out, char *errmsg);

/* End the read @r (may be NULL): every value and key it returned becomes
 * invalid. Every iterator on @r must be closed (asserted). Any thread may
 * end it. The pointer is dead afterwards. */
void store_read_end(struct store_read *r);

/* Look up @key in @db within @r.
 * Returns: 0; TDEI_NOTFOUND (no such key; also for keys of 0 or more than
 * STORE_KEY_SIZE_MAX bytes, which cannot be stored); TDEI_CORRUPT or
 * TDEI_IOERR (message in store_read_errmsg(@r)).
 * Out:   @val, @vlen: the value, borrowed from the map until
 *        store_read_end(@r); read-only memory. NULL and 0 on failure.
 * In:    @key: borrowed for the call. */
int store_get(struct store_read *r, enum store_db db, const uint8_t *key,
              size_t klen, const uint8_t **val, size_t *vlen);

/* As store_get, copying the value into @buf of @cap bytes.
 * Returns: as store_get, and TDEI_TOOBIG when the value is longer than
 * @cap (nothing copied).
 * Out:   @len: the value's length on 0 and on TDEI_TOOBIG (the size
 *        needed), 0 otherwise. */
int store_get_copy(struct store_read *r, enum store_db db, const uint8_t *key,
                   size_t klen, uint8_t *buf, size_t cap, size_t *len);

/* Read the u64 stored big-endian under @name in meta (see
 * store_meta_put_u64).
 * Returns: 0, TDEI_NOTFOUND, TDEI_CORRUPT (the value is not 8 bytes) or
 * TDEI_IOERR. On failure @value is 0. */
int store_meta_get_u64(struct store_read *r, const char *name, uint64_t *value);

/* Return the message of the last failure of a call on @r, or "". */
const char *store_read_errmsg(const struct store_read *r);

/* ---- iteration ----------------------------------------------------------- */

/* Start iterating, within @r, over the keys of @db that begin with
 * @prefix (@plen 0: all keys).
 *
 * Forward: ascending key order, from the first key >= @start (inclusive)
 * that has the prefix. Reverse (@reverse 1): descending key order, from the
 * last key <= @start (inclusive) that has the prefix; "latest height" is
 * the first key of a reverse iteration over blocks. @start may be NULL
 * (start at the first or last key with the prefix); a @start below every
 * key with the prefix gives the whole range forward and nothing in
 * reverse, one above gives nothing forward and the whole range in reverse.
 * For "strictly after" (pagination) skip a first key equal to @start.
 * Returns: 0; TDEI_IOERR or TDEI_NOMEM (message in store_read_errmsg(@r)).
 * Prefixes and starts longer than STORE_KEY_SIZE_MAX are asserted.
 * In:    @prefix, @start: copied as needed; may be NULL when their length
 *        is 0 (@start NULL means "no start").
 * Out:   @it: ready for store_iter_next on 0; nothing to close on failure.
 * State: close with store_iter_close before store_read_end(@r). */
int store_iter_init(struct store_iter *it, struct store_read *r,
                    enum store_db db, const uint8_t *prefix, size_t plen,
                    const uint8_t *start, size_t slen, int reverse);

/* Step @it to its next key.
 * Returns: 0 (a key is in the outputs); TDEI_NOTFOUND (no more keys, also
 * on every later call); TDEI_CORRUPT or TDEI_IOERR (message in
 * store_read_errmsg).
 * Out:   @key, @klen, @val, @vlen: borrowed from the map until
 *        store_read_end; @val and @vlen may be NULL when not wanted. On
 *        failure the pointers are NULL and the lengths 0. */
int store_iter_next(struct store_iter *it, const uint8_t **key, size_t *klen,
                    const uint8_t **val, size_t *vlen);

/* Close @it (which must have been initialised). */
void store_iter_close(struct store_iter *it);

/* ---- byte order helpers -------------------------------------------------- */

/* Write @v big-endian into @out (8 bytes). */
void store_u64_encode(uint8_t out[8], uint64_t v);

/* Read a big-endian u64 from @in (8 bytes). */
uint64_t store_u64_decode(const uint8_t in[8]);

/* Write @v big-endian into @out (4 bytes). */
void store_u32_encode(uint8_t out[4], uint32_t v);

/* Read a big-endian u32 from @in (4 bytes). */
uint32_t store_u32_decode(const uint8_t in[4]);

/* The TDEI code for the LMDB or errno code @rc (not 0): the mapping of
 * this store, shared by the other LMDB environments (blob/blob.h). */
int store_code(int rc);

struct MDB_txn;

/* In the write transaction @txn of another LMDB environment (blob/blob.h,
 * stream/rstore.h): compare the u64 big-endian format version at @key of
 * its database @dbi with @version, or write @version there when the key
 * is absent (a new environment).
 * Returns: 0; TDEI_VERSION (another version, or a record that is not 8
 * bytes); or an LMDB code (store_code maps it). */
int store_meta_version(struct MDB_txn *txn, unsigned int dbi, const char *key,
                       uint64_t version);

#endif
