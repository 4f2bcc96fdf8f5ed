/* The block state overlay and the in-memory state (see state.h). */
#include "exec/state.h"

#include "core/alloc.h"
#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

/* An entry that is in the table but is not a write: a key first written
 * inside a tx that was rolled back. Reads fall through to the base. */
#define ENTRY_ABSENT 2u

/* The first table size (slots, a power of two); it doubles at half full. */
#define SLOTS_INITIAL 1024u

/* A non-NULL pointer for empty values. */
static const uint8_t empty_value[1] = {0};

/* The fixed SipHash key of the lookup table. Lookup only: the table's
 * order is never observed, so a fixed key costs nothing in determinism;
 * keys are chosen by members, who are known and accountable. */
static const uint8_t table_key[crypto_shorthash_KEYBYTES] = {
    't', 'd', 'e', 'i', '/', 's', 't', 'a', 't', 'e', '/', 'v', '1'};

struct state_entry
{
    uint64_t tx_seq; /* the tx whose undo log saved it; 0 when none */
    uint8_t *val;    /* current value for STATE_PUT, from tdei_malloc */
    size_t vlen;     /* its length */
    size_t klen;     /* key length */
    unsigned kind;   /* STATE_PUT, STATE_DEL or ENTRY_ABSENT */
    uint8_t key[];   /* the key, klen bytes */
};

/* What a tx changed in one entry: its state before the tx's first
 * write to it. */
struct state_undo
{
    struct state_entry *entry; /* the entry */
    uint8_t *val;              /* its old value (still charged) */
    size_t vlen;               /* its length */
    unsigned kind;             /* its old kind */
};

struct state
{
    struct state_base base;       /* reads fall through to it */
    size_t bytes_max;             /* the budget */
    size_t bytes_used;            /* charged so far */
    struct state_entry **slots;   /* open addressing, NULL = free */
    size_t slot_count;            /* a power of two */
    struct state_entry **entries; /* every entry, in creation order */
    size_t entry_count;           /* entries used */
    size_t entry_cap;             /* entries allocated */
    struct state_undo *undo;      /* the open tx's undo log */
    size_t undo_count;            /* used */
    size_t undo_cap;              /* allocated */
    uint64_t tx_seq;              /* the current or last tx number */
    int tx_open;                  /* 1 between begin and commit/rollback */
    struct state_write *writes;   /* the last write set */
    size_t writes_cap;            /* allocated */
    char errmsg[ERRSZ];           /* last budget message */
};

/* ---- helpers ------------------------------------------------------------- */

static uint64_t key_hash(const uint8_t *key, size_t klen)
{
    uint8_t out[crypto_shorthash_BYTES];
    uint64_t h = 0;

    (void)crypto_shorthash(out, key, klen, table_key);
    for (size_t i = 0; i < sizeof(out); i++) {
        h |= (uint64_t)out[i] << (8u * i);
    }
    return h;
}

/* Bytewise order, a prefix first: the order of the LMDB store. */
static int key_compare(const uint8_t *a, size_t alen, const uint8_t *b,
                       size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n > 0 ? memcmp(a, b, n) : 0;

    if (c != 0) {
        return c;
    }
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* The slot of @key: where it is, or the free slot where it would go. */
static size_t slot_find(const struct state *st, const uint8_t *key, size_t klen,
                        uint64_t hash)
{
    size_t mask = st->slot_count - 1;
    size_t i = (size_t)hash & mask;

    /* Bounded: the table is at most half full, so a free slot exists. */
    for (size_t probes = 0; probes < st->slot_count; probes++) {
        const struct state_entry *e = st->slots[i];
        if (e == NULL || (e->klen == klen && memcmp(e->key, key, klen) == 0)) {
            return i;
        }
        i = (i + 1) & mask;
    }
    TDEI_ASSERT(0 && "state table full");
    return 0;
}

/* Double the table. Returns 0 or TDEI_NOMEM (table unchanged). */
static int table_grow(struct state *st)
{
    size_t count = st->slot_count * 2;
    struct state_entry **slots = tdei_calloc(count, sizeof(*slots));
    struct state_entry **old = st->slots;

    if (slots == NULL) {
        return TDEI_NOMEM;
    }
    st->slots = slots;
    st->slot_count = count;
    for (size_t i = 0; i < st->entry_count; i++) {
        struct state_entry *e = st->entries[i];
        size_t s = slot_find(st, e->key, e->klen, key_hash(e->key, e->klen));
        st->slots[s] = e;
    }
    tdei_free(old);
    return 0;
}

/* Make room for one more element in an array of @size-byte items. */
static int array_reserve(void **array, size_t *cap, size_t count, size_t size)
{
    size_t want;
    void *grown;

    if (count < *cap) {
        return 0;
    }
    want = *cap == 0 ? 64 : *cap * 2;
    if (want > SIZE_MAX / size) {
        return TDEI_NOMEM;
    }
    grown = tdei_realloc(*array, want * size);
    if (grown == NULL) {
        return TDEI_NOMEM;
    }
    *array = grown;
    *cap = want;
    return 0;
}

/* ---- the overlay --------------------------------------------------------- */

int state_create(struct state **out, const struct state_base *base,
                 size_t bytes_max)
{
    struct state *st = tdei_calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL) {
        return TDEI_NOMEM;
    }
    st->slots = tdei_calloc(SLOTS_INITIAL, sizeof(*st->slots));
    if (st->slots == NULL) {
        tdei_free(st);
        return TDEI_NOMEM;
    }
    st->slot_count = SLOTS_INITIAL;
    st->base = *base;
    st->bytes_max = bytes_max;
    *out = st;
    return 0;
}

static void entries_free(struct state *st)
{
    for (size_t i = 0; i < st->entry_count; i++) {
        tdei_free(st->entries[i]->val);
        tdei_free(st->entries[i]);
    }
    st->entry_count = 0;
}

void state_destroy(struct state *st)
{
    if (st == NULL) {
        return;
    }
    if (st->tx_open) {
        state_tx_rollback(st);
    }
    entries_free(st);
    tdei_free(st->entries);
    tdei_free(st->slots);
    tdei_free(st->undo);
    tdei_free(st->writes);
    tdei_free(st);
}

void state_reset(struct state *st, const struct state_base *base)
{
    TDEI_ASSERT(!st->tx_open);
    entries_free(st);
    memset(st->slots, 0, st->slot_count * sizeof(*st->slots));
    st->base = *base;
    st->bytes_used = 0;
    st->errmsg[0] = '\0';
}

static struct state_entry *entry_find(const struct state *st,
                                      const uint8_t *key, size_t klen)
{
    return st->slots[slot_find(st, key, klen, key_hash(key, klen))];
}

int state_get(struct state *st, const uint8_t *key, size_t klen,
              const uint8_t **val, size_t *vlen)
{
    const struct state_entry *e;
    int rc;

    *val = NULL;
    *vlen = 0;
    if (klen == 0 || klen > STATE_KEY_SIZE_MAX) {
        return TDEI_NOTFOUND;
    }
    e = entry_find(st, key, klen);
    if (e != NULL && e->kind == STATE_PUT) {
        *val = e->vlen > 0 ? e->val : empty_value;
        *vlen = e->vlen;
        return 0;
    }
    if (e != NULL && e->kind == STATE_DEL) {
        return TDEI_NOTFOUND;
    }
    rc = st->base.get(st->base.impl, key, klen, val, vlen);
    if (rc != 0) {
        *val = NULL;
        *vlen = 0;
    } else if (*val == NULL) {
        *val = empty_value;
    }
    return rc;
}

int state_get_copy(struct state *st, const uint8_t *key, size_t klen,
                   uint8_t *buf, size_t cap, size_t *vlen)
{
    const uint8_t *val;
    int rc = state_get(st, key, klen, &val, vlen);

    if (rc != 0) {
        return rc;
    }
    if (*vlen > cap) {
        return TDEI_TOOBIG;
    }
    if (*vlen > 0) {
        memcpy(buf, val, *vlen);
    }
    return 0;
}

/* Record @e's state before the open tx's first write to it. */
static void undo_push(struct state *st, struct state_entry *e)
{
    struct state_undo *u;

    TDEI_ASSERT(st->undo_count < st->undo_cap);
    u = &st->undo[st->undo_count++];
    u->entry = e;
    u->val = e->val;
    u->vlen = e->vlen;
    u->kind = e->kind;
    e->tx_seq = st->tx_seq;
}

/* Put or delete: the common path (see state.h for the budget rules). */
static int state_write(struct state *st, const uint8_t *key, size_t klen,
                       unsigned kind, const uint8_t *val, size_t vlen)
{
    uint64_t hash;
    size_t slot;
    struct state_entry *e;
    int saves;     /* 1: the old value goes to the undo log */
    size_t charge; /* bytes added */
    size_t refund; /* bytes released */
    uint8_t *copy = NULL;

    TDEI_ASSERT(klen >= 1 && klen <= STATE_KEY_SIZE_MAX);
    TDEI_ASSERT(vlen == 0 || val != NULL);
    if (vlen > STATE_VALUE_SIZE_MAX) {
        return tdei_errorf(st->errmsg, ERRSZ, TDEI_TOOBIG,
                           "state value is %zu bytes; the limit is %u", vlen,
                           STATE_VALUE_SIZE_MAX);
    }
    hash = key_hash(key, klen);
    slot = slot_find(st, key, klen, hash);
    e = st->slots[slot];
    saves = st->tx_open && (e == NULL || e->tx_seq != st->tx_seq);
    charge = vlen + (e == NULL ? klen + STATE_ENTRY_COST : 0);
    refund = (e != NULL && !saves) ? e->vlen : 0;
    if (charge > st->bytes_max - (st->bytes_used - refund)) {
        return tdei_errorf(st->errmsg, ERRSZ, TDEI_NOSPACE,
                           "block state would use more than %zu bytes "
                           "(%zu in use, %zu more asked)",
                           st->bytes_max, st->bytes_used, charge);
    }
    /* Allocate everything first, so that a failure changes nothing. */
    if (saves && array_reserve((void **)&st->undo, &st->undo_cap,
                               st->undo_count, sizeof(*st->undo)) != 0) {
        return TDEI_NOMEM;
    }
    if (vlen > 0) {
        copy = tdei_malloc(vlen);
        if (copy == NULL) {
            return TDEI_NOMEM;
        }
        memcpy(copy, val, vlen);
    }
    if (e == NULL) {
        if (array_reserve((void **)&st->entries, &st->entry_cap,
                          st->entry_count, sizeof(*st->entries)) != 0 ||
            ((st->entry_count + 1) * 2 > st->slot_count &&
             table_grow(st) != 0)) {
            tdei_free(copy);
            return TDEI_NOMEM;
        }
        e = tdei_malloc(sizeof(*e) + klen);
        if (e == NULL) {
            tdei_free(copy);
            return TDEI_NOMEM;
        }
        memset(e, 0, sizeof(*e));
        memcpy(e->key, key, klen);
        e->klen = klen;
        e->kind = ENTRY_ABSENT;
        slot = slot_find(st, key, klen, hash);
        st->slots[slot] = e;
        st->entries[st->entry_count++] = e;
    }
    if (saves) {
        undo_push(st, e);
    } else {
        tdei_free(e->val);
    }
    e->kind = kind;
    e->val = copy;
    e->vlen = vlen;
    st->bytes_used = st->bytes_used - refund + charge;
    TDEI_ASSERT(st->bytes_used <= st->bytes_max);
    return 0;
}

int state_put(struct state *st, const uint8_t *key, size_t klen,
              const uint8_t *val, size_t vlen)
{
    return state_write(st, key, klen, STATE_PUT, val, vlen);
}

int state_del(struct state *st, const uint8_t *key, size_t klen)
{
    return state_write(st, key, klen, STATE_DEL, NULL, 0);
}

void state_tx_begin(struct state *st)
{
    TDEI_ASSERT(!st->tx_open);
    TDEI_ASSERT(st->undo_count == 0);
    st->tx_open = 1;
    st->tx_seq++;
}

void state_tx_commit(struct state *st)
{
    TDEI_ASSERT(st->tx_open);
    for (size_t i = 0; i < st->undo_count; i++) {
        struct state_undo *u = &st->undo[i];
        tdei_free(u->val);
        st->bytes_used -= u->vlen;
        u->entry->tx_seq = 0;
    }
    st->undo_count = 0;
    st->tx_open = 0;
}

void state_tx_rollback(struct state *st)
{
    TDEI_ASSERT(st->tx_open);
    for (size_t i = st->undo_count; i > 0; i--) {
        struct state_undo *u = &st->undo[i - 1];
        struct state_entry *e = u->entry;
        tdei_free(e->val);
        st->bytes_used -= e->vlen;
        e->val = u->val;
        e->vlen = u->vlen;
        e->kind = u->kind;
        e->tx_seq = 0;
    }
    st->undo_count = 0;
    st->tx_open = 0;
}

static int write_compare(const void *a, const void *b)
{
    const struct state_write *x = a;
    const struct state_write *y = b;

    return key_compare(x->key, x->klen, y->key, y->klen);
}

int state_write_set(struct state *st, const struct state_write **writes,
                    size_t *count)
{
    size_t n = 0;

    TDEI_ASSERT(!st->tx_open);
    *writes = NULL;
    *count = 0;
    if (st->entry_count > st->writes_cap) {
        struct state_write *grown =
            tdei_realloc(st->writes, st->entry_count * sizeof(*grown));
        if (grown == NULL) {
            return TDEI_NOMEM;
        }
        st->writes = grown;
        st->writes_cap = st->entry_count;
    }
    for (size_t i = 0; i < st->entry_count; i++) {
        const struct state_entry *e = st->entries[i];
        if (e->kind == ENTRY_ABSENT) {
            continue;
        }
        st->writes[n] = (struct state_write){
            .key = e->key,
            .klen = e->klen,
            .kind = (enum state_kind)e->kind,
            .val = e->kind == STATE_PUT ? (e->vlen > 0 ? e->val : empty_value)
                                        : NULL,
            .vlen = e->vlen,
        };
        n++;
    }
    /* Keys are distinct, so the comparator is a total order and qsort's
     * instability cannot show. */
    if (n > 1) {
        qsort(st->writes, n, sizeof(*st->writes), write_compare);
    }
    *writes = n > 0 ? st->writes : NULL;
    *count = n;
    return 0;
}

static void put_u32_be(uint8_t out[4], size_t v)
{
    TDEI_ASSERT(v <= UINT32_MAX);
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

void state_write_set_hash(uint8_t out[32], const struct state_write *writes,
                          size_t count)
{
    struct tdei_sha256 sha;

    tdei_sha256_init(&sha);
    for (size_t i = 0; i < count; i++) {
        const struct state_write *w = &writes[i];
        uint8_t len[4];
        uint8_t kind = (uint8_t)w->kind;
        size_t vlen = w->kind == STATE_PUT ? w->vlen : 0;

        TDEI_DEBUG_ASSERT(i == 0 ||
                          key_compare(writes[i - 1].key, writes[i - 1].klen,
                                      w->key, w->klen) < 0);
        put_u32_be(len, w->klen);
        tdei_sha256_update(&sha, len, 4);
        tdei_sha256_update(&sha, w->key, w->klen);
        tdei_sha256_update(&sha, &kind, 1);
        put_u32_be(len, vlen);
        tdei_sha256_update(&sha, len, 4);
        if (vlen > 0) {
            tdei_sha256_update(&sha, w->val, vlen);
        }
    }
    tdei_sha256_final(&sha, out);
}

size_t state_bytes_used(const struct state *st) { return st->bytes_used; }

const char *state_errmsg(const struct state *st) { return st->errmsg; }

/* ---- contract access ----------------------------------------------------- */

static int ops_get(void *impl, const uint8_t *key, size_t klen, uint8_t *val,
                   size_t cap, size_t *vlen)
{
    return state_get_copy(impl, key, klen, val, cap, vlen);
}

static int ops_put(void *impl, const uint8_t *key, size_t klen,
                   const uint8_t *val, size_t vlen)
{
    return state_put(impl, key, klen, val, vlen);
}

static int ops_del(void *impl, const uint8_t *key, size_t klen)
{
    return state_del(impl, key, klen);
}

const struct contract_state_ops state_contract_ops = {
    .get = ops_get,
    .put = ops_put,
    .del = ops_del,
};

/* ---- the in-memory state ------------------------------------------------- */

/* One key and its value, in one allocation (value after the key). */
struct mem_item
{
    size_t klen;    /* key length */
    size_t vlen;    /* value length */
    uint8_t data[]; /* key, then value */
};

struct state_mem
{
    struct mem_item **items; /* sorted by key */
    size_t count;            /* items */
    size_t bytes;            /* sum of key and value lengths */
    size_t bytes_max;        /* the limit */
};

int state_mem_create(struct state_mem **out, size_t bytes_max)
{
    struct state_mem *m = tdei_calloc(1, sizeof(*m));

    *out = m;
    if (m == NULL) {
        return TDEI_NOMEM;
    }
    m->bytes_max = bytes_max;
    return 0;
}

void state_mem_destroy(struct state_mem *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->count; i++) {
        tdei_free(m->items[i]);
    }
    tdei_free(m->items);
    tdei_free(m);
}

/* Binary search: the index of @key, or where it would go (*found 0). */
static size_t mem_search(const struct state_mem *m, const uint8_t *key,
                         size_t klen, int *found)
{
    size_t lo = 0;
    size_t hi = m->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct mem_item *it = m->items[mid];
        int c = key_compare(it->data, it->klen, key, klen);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = 0;
    return lo;
}

int state_mem_get(const struct state_mem *m, const uint8_t *key, size_t klen,
                  const uint8_t **val, size_t *vlen)
{
    int found;
    size_t i = mem_search(m, key, klen, &found);

    *val = NULL;
    *vlen = 0;
    if (!found) {
        return TDEI_NOTFOUND;
    }
    *val = m->items[i]->data + m->items[i]->klen;
    *vlen = m->items[i]->vlen;
    return 0;
}

static int mem_base_get(void *impl, const uint8_t *key, size_t klen,
                        const uint8_t **val, size_t *vlen)
{
    return state_mem_get(impl, key, klen, val, vlen);
}

struct state_base state_mem_base(struct state_mem *m)
{
    return (struct state_base){.impl = m, .get = mem_base_get};
}

size_t state_mem_count(const struct state_mem *m) { return m->count; }

void state_mem_entry(const struct state_mem *m, size_t index,
                     struct state_write *out)
{
    const struct mem_item *it;

    TDEI_ASSERT(index < m->count);
    it = m->items[index];
    *out = (struct state_write){
        .key = it->data,
        .klen = it->klen,
        .kind = STATE_PUT,
        .val = it->data + it->klen,
        .vlen = it->vlen,
    };
}

static struct mem_item *mem_item_make(const struct state_write *w)
{
    struct mem_item *it = tdei_malloc(sizeof(*it) + w->klen + w->vlen);

    if (it == NULL) {
        return NULL;
    }
    it->klen = w->klen;
    it->vlen = w->vlen;
    memcpy(it->data, w->key, w->klen);
    if (w->vlen > 0) {
        memcpy(it->data + w->klen, w->val, w->vlen);
    }
    return it;
}

int state_mem_apply(struct state_mem *m, const struct state_write *writes,
                    size_t count)
{
    struct mem_item **merged;
    size_t i = 0; /* next old item */
    size_t j = 0; /* next write */
    size_t n = 0; /* merged items */
    size_t bytes = m->bytes;
    int rc = TDEI_NOMEM;

    if (count == 0) {
        return 0;
    }
    merged = tdei_calloc(m->count + count, sizeof(*merged));
    if (merged == NULL) {
        return TDEI_NOMEM;
    }
    /* Pass 1: build the merged list; new items are allocated, old ones
     * referenced. Nothing of @m changes yet. */
    while (i < m->count || j < count) {
        const struct state_write *w = j < count ? &writes[j] : NULL;
        int c;

        if (w != NULL && j > 0) {
            TDEI_ASSERT(key_compare(writes[j - 1].key, writes[j - 1].klen,
                                    w->key, w->klen) < 0);
        }
        if (w == NULL) {
            c = -1;
        } else if (i == m->count) {
            c = 1;
        } else {
            c = key_compare(m->items[i]->data, m->items[i]->klen, w->key,
                            w->klen);
        }
        if (c < 0) {
            merged[n++] = m->items[i++];
            continue;
        }
        if (c == 0) {
            bytes -= m->items[i]->klen + m->items[i]->vlen;
            i++;
        }
        j++;
        if (w->kind == STATE_PUT) {
            struct mem_item *it = mem_item_make(w);
            if (it == NULL) {
                goto err_after_merged;
            }
            merged[n++] = it;
            bytes += w->klen + w->vlen;
        }
    }
    if (bytes > m->bytes_max) {
        rc = TDEI_NOSPACE;
        goto err_after_merged;
    }
    /* Pass 2: free the old items that were replaced or deleted. */
    for (size_t k = 0, o = 0; k < m->count; k++) {
        while (o < n && merged[o] != m->items[k] &&
               key_compare(merged[o]->data, merged[o]->klen, m->items[k]->data,
                           m->items[k]->klen) < 0) {
            o++;
        }
        if (o < n && merged[o] == m->items[k]) {
            continue;
        }
        tdei_free(m->items[k]);
    }
    tdei_free(m->items);
    m->items = merged;
    m->count = n;
    m->bytes = bytes;
    return 0;

err_after_merged:
    for (size_t k = 0; k < n; k++) {
        int found;
        size_t at = mem_search(m, merged[k]->data, merged[k]->klen, &found);
        if (!(found && m->items[at] == merged[k])) {
            tdei_free(merged[k]); /* new: not one of @m's items */
        }
    }
    tdei_free(merged);
    return rc;
}
