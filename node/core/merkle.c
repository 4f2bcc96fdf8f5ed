/* RFC 6962 Merkle trees (see merkle.h; CONSENSUS.md section 3). */
#include "core/merkle.h"

#include "core/assert.h"
#include "core/error.h"
#include "core/hash.h"

#include <string.h>

_Static_assert(MERKLE_HASH_SIZE == TDEI_HASH_SIZE,
               "a Merkle hash is one SHA-256 output");

/* Levels in a tree of fewer than 2^64 leaves: the bound of every loop that
 * walks from a leaf to the root or from the root to a leaf. */
#define MERKLE_LEVELS_MAX 64

/* Subtree roots kept by merkle_root: one per set bit of the leaf count, so
 * 64 for any count below 2^64. */
#define MERKLE_STACK_MAX 64

static const uint8_t merkle_leaf_prefix = 0x00;
static const uint8_t merkle_node_prefix = 0x01;

/* The largest power of two strictly below @n (the RFC 6962 split k, with
 * k < n <= 2k). @n must be at least 2. */
static uint64_t merkle_split(uint64_t n)
{
    int top;

    TDEI_ASSERT(n >= 2);
    top = 63 - __builtin_clzll((unsigned long long)(n - 1));
    return (uint64_t)1 << top;
}

void merkle_leaf_hash(uint8_t out[MERKLE_HASH_SIZE], const uint8_t *data,
                      size_t len)
{
    struct tdei_sha256 ctx;

    TDEI_ASSERT(data != NULL || len == 0);
    tdei_sha256_init(&ctx);
    tdei_sha256_update(&ctx, &merkle_leaf_prefix, 1);
    tdei_sha256_update(&ctx, data, len);
    tdei_sha256_final(&ctx, out);
}

void merkle_node_hash(uint8_t out[MERKLE_HASH_SIZE],
                      const uint8_t left[MERKLE_HASH_SIZE],
                      const uint8_t right[MERKLE_HASH_SIZE])
{
    struct tdei_sha256 ctx;

    /* Both children are read before @out is written, so they may alias. */
    tdei_sha256_init(&ctx);
    tdei_sha256_update(&ctx, &merkle_node_prefix, 1);
    tdei_sha256_update(&ctx, left, MERKLE_HASH_SIZE);
    tdei_sha256_update(&ctx, right, MERKLE_HASH_SIZE);
    tdei_sha256_final(&ctx, out);
}

/* Leaves are consumed left to right like a binary counter: the stack holds
 * the roots of the perfect subtrees that make up the leaves seen so far,
 * largest first. After leaf i (count i+1) the two smallest merge once per
 * trailing one bit of i, i.e. ctz(i+1) times. At the end, the RFC 6962
 * tree over n is exactly the right fold of those perfect subtrees:
 * H(P1 || H(P2 || ... H(Pk-1 || Pk))), because each split at the largest
 * power of two below a size peels off the largest perfect subtree. */
void merkle_root(uint8_t out[MERKLE_HASH_SIZE],
                 const uint8_t (*leaves)[MERKLE_HASH_SIZE], uint64_t n)
{
    uint8_t stack[MERKLE_STACK_MAX][MERKLE_HASH_SIZE];
    size_t depth = 0;

    TDEI_ASSERT(leaves != NULL || n == 0);
    if (n == 0) {
        tdei_sha256(out, NULL, 0);
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t count = i + 1;

        /* depth == popcount(i) <= 63 here, as i < n < 2^64. */
        TDEI_ASSERT(depth < MERKLE_STACK_MAX);
        memcpy(stack[depth], leaves[i], MERKLE_HASH_SIZE);
        depth++;
        for (int level = 0; level < MERKLE_LEVELS_MAX && (count & 1) == 0;
             level++) {
            TDEI_ASSERT(depth >= 2);
            merkle_node_hash(stack[depth - 2], stack[depth - 2],
                             stack[depth - 1]);
            depth--;
            count >>= 1;
        }
    }
    for (; depth > 1; depth--) {
        merkle_node_hash(stack[depth - 2], stack[depth - 2], stack[depth - 1]);
    }
    memcpy(out, stack[0], MERKLE_HASH_SIZE);
}

size_t merkle_inclusion_path_count(uint64_t index, uint64_t tree_size)
{
    uint64_t size = tree_size;
    size_t count = 0;

    if (index >= tree_size) {
        return 0;
    }
    /* Each pass halves the size at least, so at most 64 passes. */
    for (int level = 0; level < MERKLE_LEVELS_MAX && size > 1; level++) {
        uint64_t k = merkle_split(size);
        if (index < k) {
            size = k;
        } else {
            index -= k;
            size -= k;
        }
        count++;
    }
    TDEI_ASSERT(size == 1);
    return count;
}

size_t merkle_consistency_path_count(uint64_t old_size, uint64_t new_size)
{
    uint64_t m = old_size;
    uint64_t size = new_size;
    int whole = 1; /* RFC 6962 SUBPROOF's b: still on the old root's path */
    size_t count = 0;

    if (old_size == 0 || old_size >= new_size) {
        return 0;
    }
    for (int level = 0; level <= MERKLE_LEVELS_MAX; level++) {
        if (m == size) {
            return whole ? count : count + 1;
        }
        uint64_t k = merkle_split(size);
        if (m <= k) {
            size = k;
        } else {
            m -= k;
            size -= k;
            whole = 0;
        }
        count++;
    }
    TDEI_ASSERT(0 && "consistency descent exceeded 64 levels");
    return 0;
}

/* Reverse the first @count entries of @path in place. */
static void merkle_path_reverse(uint8_t (*path)[MERKLE_HASH_SIZE], size_t count)
{
    uint8_t tmp[MERKLE_HASH_SIZE];

    for (size_t i = 0; i < count / 2; i++) {
        size_t j = count - 1 - i;
        memcpy(tmp, path[i], MERKLE_HASH_SIZE);
        memcpy(path[i], path[j], MERKLE_HASH_SIZE);
        memcpy(path[j], tmp, MERKLE_HASH_SIZE);
    }
}

/* PATH(m, D[n]) unrolled: walk down from the root, recording the root of
 * the sibling subtree at each split (top first), then reverse so that the
 * path reads leaf first. The siblings' sizes sum to n - 1, so O(n). */
int merkle_inclusion_prove(struct merkle_inclusion *proof,
                           const uint8_t (*leaves)[MERKLE_HASH_SIZE],
                           uint64_t n, uint64_t index)
{
    uint64_t start = 0;      /* first leaf of the current subtree */
    uint64_t size = n;       /* leaves in the current subtree */
    uint64_t offset = index; /* the leaf's index inside the subtree */

    memset(proof, 0, sizeof(*proof));
    if (index >= n) {
        return TDEI_INVAL;
    }
    TDEI_ASSERT(leaves != NULL);
    for (int level = 0; level < MERKLE_LEVELS_MAX && size > 1; level++) {
        uint64_t k = merkle_split(size);
        TDEI_ASSERT(proof->count < MERKLE_INCLUSION_MAX);
        if (offset < k) {
            merkle_root(proof->path[proof->count], leaves + start + k,
                        size - k);
            size = k;
        } else {
            merkle_root(proof->path[proof->count], leaves + start, k);
            start += k;
            offset -= k;
            size -= k;
        }
        proof->count++;
    }
    TDEI_ASSERT(size == 1 && offset == 0);
    merkle_path_reverse(proof->path, proof->count);
    proof->leaf_index = index;
    proof->tree_size = n;
    return 0;
}

uint64_t merkle_levels_count(uint64_t n)
{
    uint64_t total = 0;

    while (n > 1) {
        total += n;
        n = (n + 1) / 2;
    }
    return total + n;
}

void merkle_levels_build(uint8_t (*levels)[MERKLE_HASH_SIZE], uint64_t n)
{
    uint64_t at = 0; /* first node of the current level */

    TDEI_ASSERT(n >= 1 && levels != NULL);
    while (n > 1) {
        uint64_t up = at + n; /* first node of the level above */
        for (uint64_t i = 0; i < n / 2; i++) {
            merkle_node_hash(levels[up + i], levels[at + 2 * i],
                             levels[at + 2 * i + 1]);
        }
        if (n % 2 == 1) {
            memcpy(levels[up + n / 2], levels[at + n - 1], MERKLE_HASH_SIZE);
        }
        at = up;
        n = (n + 1) / 2;
    }
}

int merkle_levels_prove(struct merkle_inclusion *proof,
                        const uint8_t (*levels)[MERKLE_HASH_SIZE], uint64_t n,
                        uint64_t index)
{
    uint64_t at = 0;
    uint64_t size = n;
    uint64_t i = index;

    memset(proof, 0, sizeof(*proof));
    if (index >= n) {
        return TDEI_INVAL;
    }
    TDEI_ASSERT(levels != NULL);
    while (size > 1) {
        uint64_t sibling = i ^ 1u;
        if (sibling < size) {
            TDEI_ASSERT(proof->count < MERKLE_INCLUSION_MAX);
            memcpy(proof->path[proof->count++], levels[at + sibling],
                   MERKLE_HASH_SIZE);
        }
        at += size;
        size = (size + 1) / 2;
        i /= 2;
    }
    proof->leaf_index = index;
    proof->tree_size = n;
    return 0;
}

/* PROOF(m, D[n]) = SUBPROOF(m, D[n], true) unrolled the same way: record
 * the sibling at each split while m < size; when the descent reaches a
 * subtree equal to the old tree's part (m == size), record its root unless
 * it is the old root itself (b still true). */
int merkle_consistency_prove(struct merkle_consistency *proof,
                             const uint8_t (*leaves)[MERKLE_HASH_SIZE],
                             uint64_t old_size, uint64_t new_size)
{
    uint64_t start = 0;
    uint64_t size = new_size;
    uint64_t m = old_size;
    int whole = 1; /* SUBPROOF's b */

    memset(proof, 0, sizeof(*proof));
    if (old_size == 0 || old_size > new_size) {
        return TDEI_INVAL;
    }
    TDEI_ASSERT(leaves != NULL);
    for (int level = 0; level <= MERKLE_LEVELS_MAX && m < size; level++) {
        uint64_t k = merkle_split(size);
        TDEI_ASSERT(proof->count < MERKLE_CONSISTENCY_MAX);
        if (m <= k) {
            merkle_root(proof->path[proof->count], leaves + start + k,
                        size - k);
            size = k;
        } else {
            merkle_root(proof->path[proof->count], leaves + start, k);
            start += k;
            m -= k;
            size -= k;
            whole = 0;
        }
        proof->count++;
    }
    TDEI_ASSERT(m == size);
    if (!whole) {
        TDEI_ASSERT(proof->count < MERKLE_CONSISTENCY_MAX);
        merkle_root(proof->path[proof->count], leaves + start, size);
        proof->count++;
    }
    merkle_path_reverse(proof->path, proof->count);
    proof->old_size = old_size;
    proof->new_size = new_size;
    return 0;
}

/* Shift @fn and @sn right together while @fn is even and not zero (the
 * "shift until fn is odd or fn = 0" step of both verifiers). At most 64
 * shifts. */
static void merkle_shift_even(uint64_t *fn, uint64_t *sn)
{
    for (int level = 0; level < MERKLE_LEVELS_MAX; level++) {
        if ((*fn & 1) != 0 || *fn == 0) {
            return;
        }
        *fn >>= 1;
        *sn >>= 1;
    }
}

int merkle_inclusion_verify(const uint8_t leaf_hash[MERKLE_HASH_SIZE],
                            uint64_t index, uint64_t tree_size,
                            const uint8_t (*path)[MERKLE_HASH_SIZE],
                            size_t count, const uint8_t root[MERKLE_HASH_SIZE])
{
    uint8_t r[MERKLE_HASH_SIZE];
    uint64_t fn = index;
    uint64_t sn;

    TDEI_ASSERT(path != NULL || count == 0);
    /* Step 1: i < n and the exact path length. */
    if (index >= tree_size) {
        return TDEI_BADPROOF;
    }
    if (count != merkle_inclusion_path_count(index, tree_size)) {
        return TDEI_BADPROOF;
    }
    /* Step 2. */
    sn = tree_size - 1;
    memcpy(r, leaf_hash, MERKLE_HASH_SIZE);
    /* Step 3; count <= MERKLE_INCLUSION_MAX after the length check. */
    for (size_t i = 0; i < count; i++) {
        if (sn == 0) {
            return TDEI_BADPROOF;
        }
        if ((fn & 1) != 0 || fn == sn) {
            merkle_node_hash(r, path[i], r);
            merkle_shift_even(&fn, &sn);
        } else {
            merkle_node_hash(r, r, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 4. */
    if (sn != 0 || !tdei_hash_equal(r, root)) {
        return TDEI_BADPROOF;
    }
    return 0;
}

int merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
                              const uint8_t old_root[MERKLE_HASH_SIZE],
                              const uint8_t new_root[MERKLE_HASH_SIZE],
                              const uint8_t (*path)[MERKLE_HASH_SIZE],
                              size_t count)
{
    uint8_t fr[MERKLE_HASH_SIZE];
    uint8_t sr[MERKLE_HASH_SIZE];
    uint64_t fn;
    uint64_t sn;
    size_t next;

    TDEI_ASSERT(path != NULL || count == 0);
    /* Step 1: the edge cases, in order. */
    if (old_size > new_size) {
        return TDEI_BADPROOF;
    }
    if (old_size == new_size) {
        if (count != 0 || !tdei_hash_equal(old_root, new_root)) {
            return TDEI_BADPROOF;
        }
        return 0;
    }
    if (old_size == 0 || count == 0) {
        return TDEI_BADPROOF;
    }
    /* A longer path can never end with sn = 0; refusing it here bounds
     * the loop below without changing any answer. */
    if (count > MERKLE_CONSISTENCY_MAX) {
        return TDEI_BADPROOF;
    }
    /* Step 2 without copying: when old_size is a power of two the old root
     * is the virtual first entry, else the path's first entry is. */
    if ((old_size & (old_size - 1)) == 0) {
        memcpy(fr, old_root, MERKLE_HASH_SIZE);
        next = 0;
    } else {
        memcpy(fr, path[0], MERKLE_HASH_SIZE);
        next = 1;
    }
    /* Step 3. */
    fn = old_size - 1;
    sn = new_size - 1;
    for (int level = 0; level < MERKLE_LEVELS_MAX && (fn & 1) != 0; level++) {
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 4. */
    memcpy(sr, fr, MERKLE_HASH_SIZE);
    /* Step 5. */
    for (size_t i = next; i < count; i++) {
        if (sn == 0) {
            return TDEI_BADPROOF;
        }
        if ((fn & 1) != 0 || fn == sn) {
            merkle_node_hash(fr, path[i], fr);
            merkle_node_hash(sr, path[i], sr);
            merkle_shift_even(&fn, &sn);
        } else {
            merkle_node_hash(sr, sr, path[i]);
        }
        fn >>= 1;
        sn >>= 1;
    }
    /* Step 6: evaluate both comparisons, no early exit on the first. */
    if ((tdei_hash_equal(fr, old_root) & tdei_hash_equal(sr, new_root)) == 0 ||
        sn != 0) {
        return TDEI_BADPROOF;
    }
    return 0;
}
