/* The state overlay of one block, and an in-memory state (DESIGN.md
 * sections 4 and 6).
 *
 * During a block, contracts read and write the state key-value store
 * through a struct state: reads fall through to a base (the LMDB snapshot
 * of the last commit in the node; a struct state_mem in tests and in the
 * simulator), writes stay in a block-level overlay. A tx-level checkpoint
 * (state_tx_begin / _commit / _rollback) lets execution discard a refused
 * tx's writes while keeping what it wrote before the checkpoint (the
 * nonce). At the end of the block the write set is listed in sorted key
 * order (bytewise, memcmp, a prefix first), so its encoding and hash are
 * the same on every node.
 *
 * Lookup is a hash table (SipHash-2-4 with a fixed key, open addressing):
 * O(1) per operation, so a block of 10,000 txs costs O(n), plus one sort
 * of the write set at the end. Iteration never follows the table.
 *
 * Memory is bounded by a byte budget given at creation: each overlay entry
 * costs its key length plus STATE_ENTRY_COST, plus the length of every
 * value it holds (its current value and, inside a tx, the value saved for
 * rollback). The count depends only on the operations, never on
 * allocator or table sizes, so every node refuses the same write: a write
 * that would pass the budget returns TDEI_NOSPACE and changes nothing.
 *
 * Write set encoding (what the app hash covers; exec.h): for each write in
 * sorted key order, u32 BE key length || key || u8 kind (1 put, 0 delete)
 * || u32 BE value length || value (length 0 and no value for a delete).
 *
 * Pointers are non-NULL unless stated. A struct state and a struct
 * state_mem belong to one thread at a time; neither locks. */
#ifndef TDEI_NODE_EXEC_STATE_H
#define TDEI_NODE_EXEC_STATE_H

#include "contracts/contract.h"

#include <stddef.h>
#include <stdint.h>

/* The longest key (the store's LMDB key limit). */
#define STATE_KEY_SIZE_MAX 511u

/* The longest value. */
#define STATE_VALUE_SIZE_MAX (64u * 1024u * 1024u)

/* Budget bytes charged per overlay entry on top of its key. */
#define STATE_ENTRY_COST 64u

/* Kinds of a write (also the kind byte of the write set encoding). */
enum state_kind {
    STATE_DEL = 0, /* the key is deleted */
    STATE_PUT = 1  /* the key is set to a value */
};

/* What the overlay reads through to.
 * get: find @key. Returns 0 with *val, *vlen borrowed (valid while the
 *      base is unchanged: for the LMDB base, until its read ends),
 *      TDEI_NOTFOUND, or TDEI_IOERR / TDEI_CORRUPT. */
struct state_base
{
    void *impl; /* the base's state */
    int (*get)(void *impl, const uint8_t *key, size_t klen, const uint8_t **val,
               size_t *vlen);
};

/* One write of the write set; pointers borrowed from the overlay. */
struct state_write
{
    const uint8_t *key; /* the key */
    size_t klen;        /* 1..STATE_KEY_SIZE_MAX */
    enum state_kind kind;
    const uint8_t *val; /* the value for STATE_PUT; NULL for a delete */
    size_t vlen;        /* its length; 0 for a delete */
};

struct state;     /* a block overlay */
struct state_mem; /* an in-memory state: sorted keys and values */

/* ---- the overlay --------------------------------------------------------- */

/* Create an empty overlay over @base with a budget of @bytes_max bytes.
 * Returns: 0 or TDEI_NOMEM.
 * In:    base: copied; its impl is borrowed until state_destroy or the next
 *        state_reset.
 * Out:   out: the overlay on 0, NULL otherwise. Destroy with
 *        state_destroy. */
int state_create(struct state **out, const struct state_base *base,
                 size_t bytes_max);

/* Free @st (may be NULL). Every pointer it returned dies. */
void state_destroy(struct state *st);

/* Empty @st for a new block over @base (copied), keeping its memory for
 * reuse. No tx may be open (asserted). */
void state_reset(struct state *st, const struct state_base *base);

/* Read @key: the overlay's write if there is one (a delete reads as
 * TDEI_NOTFOUND), else the base's value.
 * Returns: 0, TDEI_NOTFOUND, or the base's TDEI_IOERR / TDEI_CORRUPT.
 * Out:   val, vlen: borrowed until the next write, rollback or reset of
 *        @st (or the base's change); NULL and 0 unless 0 is returned. */
int state_get(struct state *st, const uint8_t *key, size_t klen,
              const uint8_t **val, size_t *vlen);

/* As state_get, copying the value into @buf (@cap bytes; @buf may be NULL
 * when @cap is 0).
 * Returns: as state_get, and TDEI_TOOBIG when the value is longer than
 * @cap (nothing copied).
 * Out:   vlen: the value's length on 0 and TDEI_TOOBIG, else 0. */
int state_get_copy(struct state *st, const uint8_t *key, size_t klen,
                   uint8_t *buf, size_t cap, size_t *vlen);

/* Set @key (1..STATE_KEY_SIZE_MAX bytes, asserted) to the @vlen bytes at
 * @val (copied; NULL allowed when @vlen is 0).
 * Returns: 0, TDEI_TOOBIG (@vlen over STATE_VALUE_SIZE_MAX), TDEI_NOSPACE
 * (the budget would be passed; the message is in state_errmsg) or
 * TDEI_NOMEM. On error nothing changed. */
int state_put(struct state *st, const uint8_t *key, size_t klen,
              const uint8_t *val, size_t vlen);

/* Delete @key (deleting an absent key still records the delete).
 * Returns: as state_put. */
int state_del(struct state *st, const uint8_t *key, size_t klen);

/* Open a tx checkpoint: the writes from here on can be undone as one. No
 * tx may be open already (asserted). */
void state_tx_begin(struct state *st);

/* Keep the writes of the open tx and close it (asserted open). */
void state_tx_commit(struct state *st);

/* Undo every write since state_tx_begin, restoring values and budget, and
 * close the tx (asserted open). */
void state_tx_rollback(struct state *st);

/* List the block's writes in sorted key order.
 * Returns: 0 or TDEI_NOMEM.
 * Out:   writes: an array of @count writes, owned by @st and valid until
 *        its next write, rollback, reset or destroy; may be NULL when
 *        @count is 0.
 * State: no tx may be open (asserted). */
int state_write_set(struct state *st, const struct state_write **writes,
                    size_t *count);

/* Hash the encoding of @count @writes (header comment):
 * out = SHA256(encoding). @writes may be NULL when @count is 0. */
void state_write_set_hash(uint8_t out[32], const struct state_write *writes,
                          size_t count);

/* The budget bytes in use (see the header comment). */
size_t state_bytes_used(const struct state *st);

/* The message of the last TDEI_NOSPACE or TDEI_TOOBIG, or "". */
const char *state_errmsg(const struct state *st);

/* Contract access to a struct state (impl = struct state *): get copies
 * as state_get_copy, put and del as state_put and state_del. */
extern const struct contract_state_ops state_contract_ops;

/* ---- the in-memory state ------------------------------------------------- */

/* Create an empty in-memory state holding at most @bytes_max bytes of keys
 * and values.
 * Returns: 0 or TDEI_NOMEM. Out: out, NULL on failure. */
int state_mem_create(struct state_mem **out, size_t bytes_max);

/* Free @m (may be NULL). */
void state_mem_destroy(struct state_mem *m);

/* Apply @count writes, sorted by key and each key once (asserted), to @m:
 * one merge, O(size of @m + @count).
 * Returns: 0, TDEI_NOSPACE (the result would pass bytes_max) or
 * TDEI_NOMEM; on error @m is unchanged.
 * In:    writes: copied (a state_write_set of an overlay over @m may be
 *        passed). */
int state_mem_apply(struct state_mem *m, const struct state_write *writes,
                    size_t count);

/* A base that reads @m (borrowed: @m must outlive the overlays using it,
 * and must not change while they do). */
struct state_base state_mem_base(struct state_mem *m);

/* Read @key from @m. Returns: 0 (val, vlen borrowed until @m changes) or
 * TDEI_NOTFOUND. */
int state_mem_get(const struct state_mem *m, const uint8_t *key, size_t klen,
                  const uint8_t **val, size_t *vlen);

/* The number of keys in @m. */
size_t state_mem_count(const struct state_mem *m);

/* The @index-th entry of @m in key order (@index < count, asserted);
 * pointers borrowed until @m changes. */
void state_mem_entry(const struct state_mem *m, size_t index,
                     struct state_write *out);

#endif
