/* The simulator's world: fake crypto, the block registry, failure and
 * trace output, memory. */
#include "sim_internal.h"

#include "core/hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_fail(struct sim *s, const char *invariant, const char *fmt, ...)
{
    va_list ap;

    if (s->res->failed) {
        return;
    }
    s->res->failed = 1;
    s->res->invariant = invariant;
    va_start(ap, fmt);
    vsnprintf(s->res->reason, sizeof(s->res->reason), fmt, ap);
    va_end(ap);
    sim_trace(s, "FAIL %s: %s", invariant, s->res->reason);
}

void sim_trace(const struct sim *s, const char *fmt, ...)
{
    va_list ap;

    if (!s->cfg.verbose) {
        return;
    }
    fprintf(stderr, "%10.3f ", (double)s->now / 1000.0);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void *sim_grow(void *items, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap == 0 ? 16 : *cap;
    void *p;

    if (need <= *cap) {
        return items;
    }
    while (c < need) {
        c *= 2;
    }
    p = realloc(items, c * size);
    if (p == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    *cap = c;
    return p;
}

/* ---- fake crypto ------------------------------------------------------- */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        *p++ = (uint8_t)(v >> (8 * i));
    }
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        *p++ = (uint8_t)(v >> (8 * i));
    }
}

/* 'V' type height round nil id: 47 bytes. A nil vote signs zero bytes. */
size_t sim_vote_bytes(void *impl, const struct cons_vote *v,
                      uint8_t out[CONS_SIGN_BYTES_MAX])
{
    (void)impl;
    out[0] = 'V';
    out[1] = (uint8_t)v->type;
    put64(out + 2, v->height);
    put32(out + 10, v->round);
    out[14] = v->id.nil ? 1 : 0;
    if (v->id.nil) {
        memset(out + 15, 0, CONS_ID_SIZE);
    } else {
        memcpy(out + 15, v->id.bytes, CONS_ID_SIZE);
    }
    return 15 + CONS_ID_SIZE;
}

/* 'P' height round pol_round id: 49 bytes. */
size_t sim_proposal_bytes(void *impl, const struct cons_proposal *p,
                          uint8_t out[CONS_SIGN_BYTES_MAX])
{
    (void)impl;
    out[0] = 'P';
    put64(out + 1, p->height);
    put32(out + 9, p->round);
    put32(out + 13, (uint32_t)p->pol_round);
    memcpy(out + 17, p->id, CONS_ID_SIZE);
    return 17 + CONS_ID_SIZE;
}

/* sig = SHA256(secret || bytes) || 32 zero bytes: only the holder of the
 * secret can make it, and the simulator, which holds every secret, checks
 * it. A node's code signs only with its own index. */
void sim_mac(const struct sim *s, unsigned who, const uint8_t *bytes,
             size_t len, uint8_t sig[CONS_SIG_SIZE])
{
    struct tdei_sha256 h;

    tdei_sha256_init(&h);
    tdei_sha256_update(&h, s->secrets[who], sizeof(s->secrets[who]));
    tdei_sha256_update(&h, bytes, len);
    tdei_sha256_final(&h, sig);
    memset(sig + 32, 0, CONS_SIG_SIZE - 32);
}

int sim_sign(void *impl, const uint8_t *bytes, size_t len,
             uint8_t sig[CONS_SIG_SIZE])
{
    const struct sim_signer *sg = impl;

    sim_mac(sg->sim, sg->index, bytes, len, sig);
    return 0;
}

int sim_validator(const struct sim *s, const uint8_t key[CONS_KEY_SIZE])
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(s->all.keys[mid], key, CONS_KEY_SIZE);
        if (c == 0) {
            return (int)mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}

int sim_verify(void *impl, const uint8_t key[CONS_KEY_SIZE],
               const uint8_t *bytes, size_t len,
               const uint8_t sig[CONS_SIG_SIZE])
{
    const struct sim_signer *sg = impl;
    uint8_t want[CONS_SIG_SIZE];
    int who = sim_validator(sg->sim, key);

    if (who < 0) {
        return 0;
    }
    sim_mac(sg->sim, (unsigned)who, bytes, len, want);
    return memcmp(want, sig, CONS_SIG_SIZE) == 0;
}

int sim_vote_ok(const struct sim *s, const struct cons_vote *v, unsigned *who)
{
    uint8_t bytes[CONS_SIGN_BYTES_MAX];
    uint8_t want[CONS_SIG_SIZE];
    int i = sim_validator(s, v->validator);
    size_t len;

    if (i < 0 || (v->type != CONS_PREVOTE && v->type != CONS_PRECOMMIT)) {
        return 0;
    }
    len = sim_vote_bytes(NULL, v, bytes);
    sim_mac(s, (unsigned)i, bytes, len, want);
    if (memcmp(want, v->sig, CONS_SIG_SIZE) != 0) {
        return 0;
    }
    *who = (unsigned)i;
    return 1;
}

int sim_id_equal(const struct cons_id *a, const struct cons_id *b)
{
    if (a->nil || b->nil) {
        return a->nil && b->nil;
    }
    return memcmp(a->bytes, b->bytes, CONS_ID_SIZE) == 0;
}

/* ---- validator sets ----------------------------------------------------- */

uint64_t sim_vset_mask(struct sim *s, const struct sim_node *nd,
                       uint64_t height)
{
    uint64_t mask = s->genesis_set;

    if (!s->cfg.valset) {
        return mask; /* nothing changes it: skip the walk */
    }
    for (uint64_t h = 1; h + 2 <= height; h++) {
        const struct sim_block *b;
        if (h > nd->committed) {
            sim_fail(s, "valset",
                     "node %u asked for the set of height %llu with %llu "
                     "committed",
                     nd->index, (unsigned long long)height,
                     (unsigned long long)nd->committed);
            return mask;
        }
        b = sim_block_get(s, nd->chain[h - 1].id);
        if (b != NULL && b->change > 0) {
            mask |= 1ull << s->joiner;
        } else if (b != NULL && b->change < 0) {
            mask &= ~(1ull << s->leaver);
        }
    }
    return mask;
}

void sim_vset_of(const struct sim *s, uint64_t mask, struct cons_vset *out)
{
    out->n = 0;
    for (unsigned i = 0; i < s->n; i++) {
        if (mask & (1ull << i)) {
            memcpy(out->keys[out->n++], s->all.keys[i], CONS_KEY_SIZE);
        }
    }
}

unsigned sim_mask_count(uint64_t mask)
{
    unsigned n = 0;

    for (; mask != 0; mask &= mask - 1) {
        n++;
    }
    return n;
}

unsigned sim_quorum(uint64_t mask) { return 2u * sim_mask_count(mask) / 3u + 1u; }

/* ---- the block registry: every block id anyone built ------------------- */

static size_t block_slot(const uint8_t id[CONS_ID_SIZE], size_t cap)
{
    uint64_t k = 0;

    for (int i = 0; i < 8; i++) {
        k = (k << 8) | id[i];
    }
    return (size_t)(k & (cap - 1));
}

struct sim_block *sim_block_get(struct sim *s, const uint8_t id[CONS_ID_SIZE])
{
    size_t i;

    if (s->blocks_cap == 0) {
        return NULL;
    }
    for (i = block_slot(id, s->blocks_cap);;
         i = (i + 1) & (s->blocks_cap - 1)) {
        struct sim_block *b = &s->blocks[i];
        if (!b->used) {
            return NULL;
        }
        if (memcmp(b->id, id, CONS_ID_SIZE) == 0) {
            return b;
        }
    }
}

static void blocks_rehash(struct sim *s)
{
    struct sim_block *old = s->blocks;
    size_t old_cap = s->blocks_cap;

    s->blocks_cap = old_cap == 0 ? 256 : old_cap * 2;
    s->blocks = calloc(s->blocks_cap, sizeof(*s->blocks));
    if (s->blocks == NULL) {
        fprintf(stderr, "sim: out of memory\n");
        abort();
    }
    for (size_t j = 0; j < old_cap; j++) {
        if (old[j].used) {
            size_t i = block_slot(old[j].id, s->blocks_cap);
            while (s->blocks[i].used) {
                i = (i + 1) & (s->blocks_cap - 1);
            }
            s->blocks[i] = old[j];
        }
    }
    free(old);
}

/* The registry entry for @id, created (zeroed but for the id) if new. */
struct sim_block *sim_block_add(struct sim *s, const uint8_t id[CONS_ID_SIZE])
{
    struct sim_block *b = sim_block_get(s, id);
    size_t i;

    if (b != NULL) {
        return b;
    }
    if ((s->blocks_n + 1) * 2 > s->blocks_cap) {
        blocks_rehash(s);
    }
    i = block_slot(id, s->blocks_cap);
    while (s->blocks[i].used) {
        i = (i + 1) & (s->blocks_cap - 1);
    }
    b = &s->blocks[i];
    memset(b, 0, sizeof(*b));
    b->used = 1;
    memcpy(b->id, id, CONS_ID_SIZE);
    s->blocks_n++;
    return b;
}
