/* RFC 6962 Merkle trees: roots, inclusion and consistency proofs.
 *
 * The tree is the one of CONSENSUS.md section 3 (RFC 6962 section 2.1, RFC
 * 9162 section 2.1): a leaf hashes as SHA256(0x00 || data), an interior
 * node as SHA256(0x01 || left || right), a tree of n > 1 leaves splits at
 * the largest power of two strictly below n, and the empty tree's root is
 * SHA256(""). A lone last node is never duplicated.
 *
 * Every function except merkle_leaf_hash works on LEAF HASHES: callers hash
 * their leaves first (merkle_leaf_hash) and pass arrays of 32-byte hashes.
 * Paths are ordered from the leaf upward, as in the RFC.
 *
 * Nothing here allocates, recurses, logs or touches I/O; every loop is
 * bounded by the tree size or by the 64 bits of a size. The verifiers take
 * any 64-bit sizes; the provers need all leaf hashes in memory.
 * Pointers are non-NULL unless stated. Functions are pure and thread-safe
 * (they share no state). */
#ifndef TDEI_CORE_MERKLE_H
#define TDEI_CORE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in a leaf, node or root hash (SHA-256). */
#define MERKLE_HASH_SIZE 32

/* The longest inclusion path for any tree of fewer than 2^64 leaves.
 * A leaf's path has one entry per level above it, and no leaf sits deeper
 * than ceil(log2 n) <= 64; n = 2^63 + 1 reaches 64 for leaves 0..2^63-1. */
#define MERKLE_INCLUSION_MAX 64

/* The longest consistency proof for any new size below 2^64. The proof
 * has one entry per split on the way down (at most ceil(log2 n) <= 64)
 * plus, when the old tree is not a power of two, the root of the subtree
 * where the descent stops. n = 2^63 + 1, m = 3 reaches 65. */
#define MERKLE_CONSISTENCY_MAX 65

/* The array size that fits either kind of path (for callers that parse
 * paths before they know their kind). */
#define MERKLE_PATH_MAX 65

_Static_assert(MERKLE_PATH_MAX >= MERKLE_INCLUSION_MAX,
               "MERKLE_PATH_MAX must fit an inclusion path");
_Static_assert(MERKLE_PATH_MAX >= MERKLE_CONSISTENCY_MAX,
               "MERKLE_PATH_MAX must fit a consistency proof");
_Static_assert(MERKLE_CONSISTENCY_MAX == MERKLE_INCLUSION_MAX + 1,
               "a consistency proof is an inclusion path plus one node");

/* An inclusion (audit) path: proves that leaf @leaf_index is in the tree of
 * @tree_size leaves with a given root. */
struct merkle_inclusion
{
    uint64_t leaf_index; /* 0-based index of the proven leaf */
    uint64_t tree_size;  /* number of leaves in the tree */
    size_t count;        /* entries used in @path, 0..MERKLE_INCLUSION_MAX */
    uint8_t path[MERKLE_INCLUSION_MAX][MERKLE_HASH_SIZE]; /* leaf to root */
};

/* A consistency proof: proves that the tree of @old_size leaves is a prefix
 * of the tree of @new_size leaves. */
struct merkle_consistency
{
    uint64_t old_size; /* leaves in the older tree, 1..new_size */
    uint64_t new_size; /* leaves in the newer tree */
    size_t count;      /* entries used in @path, 0..MERKLE_CONSISTENCY_MAX */
    uint8_t path[MERKLE_CONSISTENCY_MAX][MERKLE_HASH_SIZE]; /* bottom up */
};

/* Hash one leaf: out = SHA256(0x00 || data).
 * In:  data: the leaf's bytes, @len of them; may be NULL when @len is 0.
 * Out: out: the leaf hash. */
void merkle_leaf_hash(uint8_t out[MERKLE_HASH_SIZE], const uint8_t *data,
                      size_t len);

/* Hash two children: out = SHA256(0x01 || left || right).
 * In:  left, right: child hashes; either may alias @out. */
void merkle_node_hash(uint8_t out[MERKLE_HASH_SIZE],
                      const uint8_t left[MERKLE_HASH_SIZE],
                      const uint8_t right[MERKLE_HASH_SIZE]);

/* Compute the root MTH over @n leaf hashes. n = 0 gives SHA256(""), n = 1
 * gives the leaf hash itself. Iterative and O(n) hashes, with a fixed
 * 64-entry stack of complete subtree roots; never allocates.
 * In:  leaves: @n leaf hashes (already hashed with merkle_leaf_hash),
 *      borrowed for the call; may be NULL when @n is 0.
 * Out: out: the root; may not alias @leaves. */
void merkle_root(uint8_t out[MERKLE_HASH_SIZE],
                 const uint8_t (*leaves)[MERKLE_HASH_SIZE], uint64_t n);

/* The number of entries in the inclusion path of leaf @index in a tree of
 * @tree_size leaves, or 0 when @index >= @tree_size (and for size 1). */
size_t merkle_inclusion_path_count(uint64_t index, uint64_t tree_size);

/* The number of entries in the consistency proof from @old_size to
 * @new_size, or 0 when old_size == new_size, old_size == 0 or
 * old_size > new_size (no valid non-empty proof exists for those). */
size_t merkle_consistency_path_count(uint64_t old_size, uint64_t new_size);

/* Build the inclusion path of leaf @index among @n leaf hashes (RFC 6962
 * PATH(m, D[n]), CONSENSUS.md section 3), top-down without recursion; the
 * subtree roots come from merkle_root on sub-ranges, O(n) hashes in all.
 * Returns: 0, or TDEI_INVAL when @index >= @n (@proof is then zeroed).
 * In:  leaves: @n leaf hashes, borrowed for the call.
 * Out: proof: leaf_index, tree_size, count and path, leaf first. */
int merkle_inclusion_prove(struct merkle_inclusion *proof,
                           const uint8_t (*leaves)[MERKLE_HASH_SIZE],
                           uint64_t n, uint64_t index);

/* Every level of the tree over @n leaf hashes, for a server that proves
 * many leaves of one tree: built once with O(n) hashes, each proof then
 * costs no hashing. Level 0 is the leaves; node i of level l + 1 is
 * merkle_node_hash(node 2i, node 2i + 1) of level l, or node 2i itself
 * when it has no right sibling (the last node of an odd level is carried
 * up unchanged), which gives exactly the RFC 6962 tree. The levels lie
 * one after the other in one array, level 0 first.
 * merkle_levels_count: the hashes of all levels, n >= 1 (below 2n + 64);
 * 0 for n = 0. */
uint64_t merkle_levels_count(uint64_t n);

/* Build the levels above the @n >= 1 leaf hashes that @levels holds in
 * its first @n entries (level 0); @levels has merkle_levels_count(@n)
 * entries. */
void merkle_levels_build(uint8_t (*levels)[MERKLE_HASH_SIZE], uint64_t n);

/* The inclusion path of leaf @index read from @levels of a tree of @n
 * leaves: the same proof as merkle_inclusion_prove.
 * Returns: 0, or TDEI_INVAL when @index >= @n (@proof is then zeroed). */
int merkle_levels_prove(struct merkle_inclusion *proof,
                        const uint8_t (*levels)[MERKLE_HASH_SIZE],
                        uint64_t n, uint64_t index);

/* Check that @path proves leaf hash @leaf_hash at @index in the tree of
 * @tree_size leaves whose root is @root (CONSENSUS.md section 3,
 * "Verifying inclusion"). The path length must be exactly the one implied
 * by (@index, @tree_size).
 * Returns: 0 when the proof holds, TDEI_BADPROOF otherwise: @index >=
 * @tree_size, a path of the wrong length, or a path that does not lead
 * from the leaf hash to @root. Comparison with @root is constant-time.
 * In:  path: @count hashes, leaf first; may be NULL when @count is 0. */
int merkle_inclusion_verify(const uint8_t leaf_hash[MERKLE_HASH_SIZE],
                            uint64_t index, uint64_t tree_size,
                            const uint8_t (*path)[MERKLE_HASH_SIZE],
                            size_t count, const uint8_t root[MERKLE_HASH_SIZE]);

/* Build the consistency proof from the first @old_size of the @new_size
 * leaf hashes to all of them (RFC 6962 PROOF(m, D[n]), CONSENSUS.md
 * section 3), top-down without recursion; O(new_size) hashes. old_size ==
 * new_size gives an empty proof.
 * Returns: 0, or TDEI_INVAL unless 0 < @old_size <= @new_size (@proof is
 * then zeroed).
 * In:  leaves: @new_size leaf hashes, borrowed for the call.
 * Out: proof: old_size, new_size, count and path. */
int merkle_consistency_prove(struct merkle_consistency *proof,
                             const uint8_t (*leaves)[MERKLE_HASH_SIZE],
                             uint64_t old_size, uint64_t new_size);

/* Check that @path proves the tree of @old_size leaves with root @old_root
 * is a prefix of the tree of @new_size leaves with root @new_root
 * (CONSENSUS.md section 3, "Verifying consistency"). Edge cases, in this
 * order: old_size > new_size fails; old_size == new_size holds only with an
 * empty path and equal roots; old_size == 0 fails; otherwise an empty path
 * fails.
 * Returns: 0 when the proof holds, TDEI_BADPROOF otherwise.
 * In:  path: @count hashes; may be NULL when @count is 0. */
int merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
                              const uint8_t old_root[MERKLE_HASH_SIZE],
                              const uint8_t new_root[MERKLE_HASH_SIZE],
                              const uint8_t (*path)[MERKLE_HASH_SIZE],
                              size_t count);

#endif
