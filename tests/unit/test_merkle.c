/* Tests of the RFC 6962 Merkle tree: published vectors, exhaustive
 * properties on every tree of 0..64 leaves, and edge cases. */
#include "testutil.h"

#include "core/error.h"
#include "core/hash.h"
#include "core/alloc.h"
#include "core/merkle.h"

#include <jansson.h>
#include <string.h>

/* The property tests cover every tree size up to this many leaves. */
#define PROP_SIZE_MAX 64

/* Trees up to this size get every one of the 256 single-bit flips of every
 * hash; larger ones a rotating sample of 8 (one bit in every 4th byte),
 * which still flips every bit position of every path slot over any 32
 * consecutive proofs. The full sweep everywhere is ~50 M SHA-256 calls
 * (40 s); this is ~2.6 M. */
#define FLIP_FULL_SIZE_MAX 8
#define FLIP_SAMPLE 8

/* Fill @bits with the bit positions (0..255) to flip and return how many:
 * all of them when @full, else FLIP_SAMPLE spread 32 bits apart with an
 * offset that @salt rotates through all 32 residues. */
static size_t flip_bits(int bits[8 * 32], int full, unsigned salt)
{
    int offset = (int)((salt * 7u) % 32u);

    if (full) {
        for (int q = 0; q < 8 * 32; q++) {
            bits[q] = q;
        }
        return 8 * 32;
    }
    for (int t = 0; t < FLIP_SAMPLE; t++) {
        bits[t] = 32 * t + offset;
    }
    return FLIP_SAMPLE;
}

/* Failures are counted inside the loops and asserted once: a Check assert
 * per probe would cost a pipe write each, and the loops run ~10^6 probes. */
struct probe_log
{
    long failures;   /* probes that gave the wrong answer */
    char first[160]; /* description of the first one */
};

static void probe_expect(struct probe_log *log, int got, int want,
                         const char *what, uint64_t a, uint64_t b, long c)
{
    if (got == want) {
        return;
    }
    if (log->failures == 0) {
        (void)snprintf(log->first, sizeof(log->first),
                       "%s (%llu, %llu, %ld): got %d, wanted %d", what,
                       (unsigned long long)a, (unsigned long long)b, c, got,
                       want);
    }
    log->failures++;
}

#define PROBE_LOG_CHECK(log)                                                   \
    ck_assert_msg((log).failures == 0, "%ld wrong answers; first: %s",         \
                  (log).failures, (log).first)

/* ---- data ------------------------------------------------------------- */

/* Leaf hashes of the property trees: leaf i is the one byte i. */
static void prop_leaves(uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE])
{
    for (int i = 0; i < PROP_SIZE_MAX; i++) {
        uint8_t byte = (uint8_t)i;
        merkle_leaf_hash(leaves[i], &byte, 1);
    }
}

/* A differential reference for the root: the RFC 6962 tree is also the
 * level-by-level tree in which an odd last node moves up unchanged. */
static void reference_root(uint8_t out[MERKLE_HASH_SIZE],
                           const uint8_t (*leaves)[MERKLE_HASH_SIZE], size_t n)
{
    uint8_t level[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    size_t width = n;

    ck_assert_uint_le(n, PROP_SIZE_MAX);
    if (n == 0) {
        tdei_sha256(out, NULL, 0);
        return;
    }
    memcpy(level, leaves, n * MERKLE_HASH_SIZE);
    while (width > 1) {
        size_t next = 0;
        for (size_t i = 0; i + 1 < width; i += 2) {
            merkle_node_hash(level[next++], level[i], level[i + 1]);
        }
        if (width % 2 == 1) {
            memcpy(level[next++], level[width - 1], MERKLE_HASH_SIZE);
        }
        width = next;
    }
    memcpy(out, level[0], MERKLE_HASH_SIZE);
}

/* The shape of an inclusion path, from a top-down descent written
 * independently of the verifier's bit arithmetic: bit j of @sides is 1
 * when path entry j (leaf first) is a LEFT sibling. Two (index, size)
 * pairs with the same shape make the verifier compute the same hashes, so
 * one path verifies for both; different shapes must not. */
struct shape
{
    size_t count;     /* path entries */
    uint64_t sides;   /* bit j: entry j hashes on the left */
    int seed_is_path; /* consistency: path[0] seeds fr (old not a power
                         of two); unused for inclusion */
};

static struct shape inclusion_shape(uint64_t index, uint64_t size)
{
    struct shape s = {0, 0, 0};
    uint64_t top_down = 0;

    while (size > 1) {
        uint64_t k = 1;
        while (k * 2 < size) {
            k *= 2;
        }
        top_down <<= 1;
        if (index >= k) {
            top_down |= 1;
            index -= k;
            size -= k;
        } else {
            size = k;
        }
        s.count++;
    }
    s.sides = top_down; /* the last split is bit 0: leaf-first order */
    return s;
}

static struct shape consistency_shape(uint64_t m, uint64_t size)
{
    struct shape s = {0, 0, 0};
    uint64_t top_down = 0;
    int whole = 1;

    while (m < size) {
        uint64_t k = 1;
        while (k * 2 < size) {
            k *= 2;
        }
        top_down <<= 1;
        if (m > k) {
            top_down |= 1;
            m -= k;
            size -= k;
            whole = 0;
        } else {
            size = k;
        }
        s.count++;
    }
    s.sides = top_down; /* bit j = j-th sibling from the bottom */
    s.seed_is_path = !whole;
    if (!whole) {
        s.count++; /* the seed comes first in the path */
        s.sides <<= 1;
    }
    return s;
}

static int shape_equal(struct shape a, struct shape b)
{
    return a.count == b.count && a.sides == b.sides &&
           a.seed_is_path == b.seed_is_path;
}

/* ---- vectors ---------------------------------------------------------- */

static json_t *vectors_load(void)
{
    json_error_t error;
    json_t *root =
        json_load_file(testutil_vector_path("rfc6962.json"), 0, &error);

    ck_assert_msg(root != NULL, "rfc6962.json: line %d: %s", error.line,
                  error.text);
    ck_assert_ptr_nonnull(json_object_get(root, "source"));
    return root;
}

static void vector_hash(uint8_t out[MERKLE_HASH_SIZE], json_t *hex)
{
    ck_assert(json_is_string(hex));
    ck_assert_uint_eq(
        testutil_unhex(out, MERKLE_HASH_SIZE, json_string_value(hex)),
        MERKLE_HASH_SIZE);
}

/* Decode a "path" array into @path; returns the count. */
static size_t vector_path(uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_SIZE],
                          json_t *array)
{
    size_t count = json_array_size(array);

    ck_assert(json_is_array(array));
    ck_assert_uint_le(count, MERKLE_PATH_MAX);
    for (size_t i = 0; i < count; i++) {
        vector_hash(path[i], json_array_get(array, i));
    }
    return count;
}

/* The 8 leaf hashes of the reference tree, from the leaf DATA. */
static void vector_leaves(json_t *doc, uint8_t leaves[8][MERKLE_HASH_SIZE])
{
    json_t *data = json_object_get(doc, "leaves");

    ck_assert_uint_eq(json_array_size(data), 8);
    for (size_t i = 0; i < 8; i++) {
        uint8_t bytes[64];
        size_t len = testutil_unhex(bytes, sizeof(bytes),
                                    json_string_value(json_array_get(data, i)));
        merkle_leaf_hash(leaves[i], bytes, len);
    }
}

START_TEST(test_merkle_leaf_hashes_match_vectors)
{
    json_t *doc = vectors_load();
    uint8_t leaves[8][MERKLE_HASH_SIZE];
    uint8_t want[MERKLE_HASH_SIZE];

    vector_leaves(doc, leaves);
    for (size_t i = 0; i < 8; i++) {
        vector_hash(want,
                    json_array_get(json_object_get(doc, "leaf_hashes"), i));
        ck_assert_mem_eq(leaves[i], want, MERKLE_HASH_SIZE);
    }
    json_decref(doc);
}
END_TEST

START_TEST(test_merkle_roots_match_vectors)
{
    json_t *doc = vectors_load();
    uint8_t leaves[8][MERKLE_HASH_SIZE];
    uint8_t want[MERKLE_HASH_SIZE];
    uint8_t got[MERKLE_HASH_SIZE];

    vector_leaves(doc, leaves);
    vector_hash(want, json_object_get(doc, "empty_root"));
    merkle_root(got, NULL, 0);
    ck_assert_mem_eq(got, want, MERKLE_HASH_SIZE);
    for (uint64_t n = 1; n <= 8; n++) {
        vector_hash(want, json_array_get(json_object_get(doc, "roots"),
                                         (size_t)(n - 1)));
        merkle_root(got, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
        ck_assert_mem_eq(got, want, MERKLE_HASH_SIZE);
    }
    json_decref(doc);
}
END_TEST

START_TEST(test_merkle_inclusion_vectors_prove_and_verify)
{
    json_t *doc = vectors_load();
    json_t *cases = json_object_get(doc, "inclusion");
    uint8_t leaves[8][MERKLE_HASH_SIZE];
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;

    vector_leaves(doc, leaves);
    ck_assert_uint_eq(json_array_size(cases), 5);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *vec = json_array_get(cases, c);
        uint64_t index =
            (uint64_t)json_integer_value(json_object_get(vec, "leaf_index"));
        uint64_t size =
            (uint64_t)json_integer_value(json_object_get(vec, "tree_size"));
        size_t count = vector_path(path, json_object_get(vec, "path"));

        vector_hash(root, json_array_get(json_object_get(doc, "roots"),
                                         (size_t)(size - 1)));
        ck_assert_int_eq(merkle_inclusion_prove(
                             &proof, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves,
                             size, index),
                         0);
        ck_assert_uint_eq(proof.leaf_index, index);
        ck_assert_uint_eq(proof.tree_size, size);
        ck_assert_uint_eq(proof.count, count);
        ck_assert_uint_eq(merkle_inclusion_path_count(index, size), count);
        if (count > 0) {
            ck_assert_mem_eq(proof.path, path, count * MERKLE_HASH_SIZE);
        }
        ck_assert_int_eq(
            merkle_inclusion_verify(leaves[index], index, size,
                                    (const uint8_t(*)[MERKLE_HASH_SIZE])path,
                                    count, root),
            0);
    }
    json_decref(doc);
}
END_TEST

START_TEST(test_merkle_consistency_vectors_prove_and_verify)
{
    json_t *doc = vectors_load();
    json_t *cases = json_object_get(doc, "consistency");
    json_t *roots = json_object_get(doc, "roots");
    uint8_t leaves[8][MERKLE_HASH_SIZE];
    uint8_t path[MERKLE_PATH_MAX][MERKLE_HASH_SIZE];
    uint8_t old_root[MERKLE_HASH_SIZE];
    uint8_t new_root[MERKLE_HASH_SIZE];
    struct merkle_consistency proof;

    vector_leaves(doc, leaves);
    ck_assert_uint_eq(json_array_size(cases), 5);
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *vec = json_array_get(cases, c);
        uint64_t m =
            (uint64_t)json_integer_value(json_object_get(vec, "old_size"));
        uint64_t n =
            (uint64_t)json_integer_value(json_object_get(vec, "new_size"));
        size_t count = vector_path(path, json_object_get(vec, "path"));

        vector_hash(old_root, json_array_get(roots, (size_t)(m - 1)));
        vector_hash(new_root, json_array_get(roots, (size_t)(n - 1)));
        ck_assert_int_eq(
            merkle_consistency_prove(
                &proof, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, m, n),
            0);
        ck_assert_uint_eq(proof.old_size, m);
        ck_assert_uint_eq(proof.new_size, n);
        ck_assert_uint_eq(proof.count, count);
        ck_assert_uint_eq(merkle_consistency_path_count(m, n), count);
        if (count > 0) {
            ck_assert_mem_eq(proof.path, path, count * MERKLE_HASH_SIZE);
        }
        ck_assert_int_eq(merkle_consistency_verify(
                             m, n, old_root, new_root,
                             (const uint8_t(*)[MERKLE_HASH_SIZE])path, count),
                         0);
    }
    json_decref(doc);
}
END_TEST

/* ---- roots ------------------------------------------------------------ */

START_TEST(test_merkle_root_matches_reference_every_size)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t got[MERKLE_HASH_SIZE];
    uint8_t want[MERKLE_HASH_SIZE];

    prop_leaves(leaves);
    for (uint64_t n = 0; n <= PROP_SIZE_MAX; n++) {
        merkle_root(got, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
        reference_root(want, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves,
                       (size_t)n);
        ck_assert_msg(memcmp(got, want, MERKLE_HASH_SIZE) == 0,
                      "root of %llu leaves differs from the reference",
                      (unsigned long long)n);
    }
}
END_TEST

/* ---- inclusion properties --------------------------------------------- */

/* Prove leaf @i of @n and its root; asserts success. */
static void inclusion_setup(struct merkle_inclusion *proof,
                            uint8_t root[MERKLE_HASH_SIZE],
                            uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE],
                            uint64_t n, uint64_t i)
{
    const uint8_t(*cl)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])leaves;

    ck_assert_int_eq(merkle_inclusion_prove(proof, cl, n, i), 0);
    reference_root(root, cl, (size_t)n);
}

START_TEST(test_merkle_inclusion_round_trips_every_size_and_index)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;
    struct probe_log log = {0, ""};

    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        for (uint64_t i = 0; i < n; i++) {
            inclusion_setup(&proof, root, leaves, n, i);
            probe_expect(&log, (int)proof.count,
                         (int)inclusion_shape(i, n).count, "count", n, i, 0);
            probe_expect(&log, (int)merkle_inclusion_path_count(i, n),
                         (int)proof.count, "path_count", n, i, 0);
            probe_expect(&log,
                         merkle_inclusion_verify(
                             leaves[i], i, n,
                             (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path,
                             proof.count, root),
                         0, "verify", n, i, 0);
        }
    }
    PROBE_LOG_CHECK(log);
}
END_TEST

/* The proofs read from the levels are the proofs of merkle_inclusion_prove,
 * the top level is the root, for every size and index. */
START_TEST(test_merkle_levels_prove_as_the_tree_does)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t (*levels)[MERKLE_HASH_SIZE] =
        tdei_malloc(2 * PROP_SIZE_MAX * MERKLE_HASH_SIZE);
    uint8_t root[MERKLE_HASH_SIZE];
    struct merkle_inclusion want;
    struct merkle_inclusion got;
    struct probe_log log = {0, ""};

    ck_assert_ptr_nonnull(levels);
    ck_assert_uint_eq(merkle_levels_count(0), 0);
    ck_assert_uint_eq(merkle_levels_count(1), 1);
    ck_assert_uint_eq(merkle_levels_count(5), 5 + 3 + 2 + 1);
    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        uint64_t count = merkle_levels_count(n);
        probe_expect(&log, count < 2 * n + 64 && count <= 2 * PROP_SIZE_MAX,
                     1, "count", n, 0, 0);
        memcpy(levels, leaves, (size_t)n * MERKLE_HASH_SIZE);
        merkle_levels_build(levels, n);
        merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n);
        probe_expect(&log, memcmp(levels[count - 1], root, MERKLE_HASH_SIZE),
                     0, "root", n, 0, 0);
        for (uint64_t i = 0; i < n; i++) {
            (void)merkle_inclusion_prove(
                &want, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, n, i);
            probe_expect(&log,
                         merkle_levels_prove(
                             &got, (const uint8_t(*)[MERKLE_HASH_SIZE])levels,
                             n, i),
                         0, "prove", n, i, 0);
            probe_expect(&log, memcmp(&got, &want, sizeof(got)), 0, "same",
                         n, i, 0);
        }
    }
    ck_assert_int_eq(merkle_levels_prove(
                         &got, (const uint8_t(*)[MERKLE_HASH_SIZE])levels, 3, 3),
                     TDEI_INVAL);
    tdei_free(levels);
    PROBE_LOG_CHECK(log);
}
END_TEST

START_TEST(test_merkle_inclusion_rejects_every_bit_flip)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    uint8_t leaf[MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;
    struct probe_log log = {0, ""};
    int bits[8 * MERKLE_HASH_SIZE];
    unsigned salt = 0;

    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        int full = n <= FLIP_FULL_SIZE_MAX;
        for (uint64_t i = 0; i < n; i++, salt++) {
            const uint8_t(*path)[MERKLE_HASH_SIZE] =
                (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path;
            size_t flips;
            inclusion_setup(&proof, root, leaves, n, i);
            memcpy(leaf, leaves[i], MERKLE_HASH_SIZE);
            for (size_t j = 0; j < proof.count; j++) {
                flips = flip_bits(bits, full, salt + 5u * (unsigned)j);
                for (size_t f = 0; f < flips; f++) {
                    uint8_t mask = (uint8_t)(1u << (bits[f] % 8));
                    proof.path[j][bits[f] / 8] ^= mask;
                    probe_expect(&log,
                                 merkle_inclusion_verify(leaf, i, n, path,
                                                         proof.count, root),
                                 TDEI_BADPROOF, "path bit", n, i,
                                 (long)j * 256 + bits[f]);
                    proof.path[j][bits[f] / 8] ^= mask;
                }
            }
            flips = flip_bits(bits, full, salt + 3u);
            for (size_t f = 0; f < flips; f++) {
                uint8_t mask = (uint8_t)(1u << (bits[f] % 8));
                leaf[bits[f] / 8] ^= mask;
                probe_expect(&log,
                             merkle_inclusion_verify(leaf, i, n, path,
                                                     proof.count, root),
                             TDEI_BADPROOF, "leaf bit", n, i, bits[f]);
                leaf[bits[f] / 8] ^= mask;
                root[bits[f] / 8] ^= mask;
                probe_expect(&log,
                             merkle_inclusion_verify(leaf, i, n, path,
                                                     proof.count, root),
                             TDEI_BADPROOF, "root bit", n, i, bits[f]);
                root[bits[f] / 8] ^= mask;
            }
            /* Untouched, it still verifies. */
            probe_expect(
                &log,
                merkle_inclusion_verify(leaf, i, n, path, proof.count, root), 0,
                "restored", n, i, 0);
        }
    }
    PROBE_LOG_CHECK(log);
}
END_TEST

/* Verify the proof of (i, n) as (i2, n2) and check the answer against the
 * shapes: accept exactly when the descent has the same shape. */
static void inclusion_probe_moved(struct probe_log *log,
                                  const struct merkle_inclusion *proof,
                                  const uint8_t leaf[MERKLE_HASH_SIZE],
                                  const uint8_t root[MERKLE_HASH_SIZE],
                                  uint64_t i2, uint64_t n2, const char *what)
{
    int want = TDEI_BADPROOF;

    if (i2 < n2 &&
        shape_equal(inclusion_shape(i2, n2),
                    inclusion_shape(proof->leaf_index, proof->tree_size))) {
        want = 0;
    }
    probe_expect(
        log,
        merkle_inclusion_verify(leaf, i2, n2,
                                (const uint8_t(*)[MERKLE_HASH_SIZE])proof->path,
                                proof->count, root),
        want, what, proof->tree_size, proof->leaf_index,
        (long)(i2 * 1000 + n2));
}

START_TEST(test_merkle_inclusion_rejects_moved_index_or_size)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;
    struct probe_log log = {0, ""};
    long same_shape = 0;

    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        for (uint64_t i = 0; i < n; i++) {
            inclusion_setup(&proof, root, leaves, n, i);
            /* Another index of the same tree never shares the shape, so
             * each of these must fail outright. */
            for (int bit = 0; bit < 64; bit++) {
                uint64_t i2 = i ^ ((uint64_t)1 << bit);
                probe_expect(&log,
                             merkle_inclusion_verify(
                                 leaves[i], i2, n,
                                 (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path,
                                 proof.count, root),
                             TDEI_BADPROOF, "index^bit", n, i, bit);
            }
            inclusion_probe_moved(&log, &proof, leaves[i], root, i + 1, n,
                                  "index+1");
            inclusion_probe_moved(&log, &proof, leaves[i], root, i - 1, n,
                                  "index-1");
            /* A size with the same shape (e.g. leaf 0 of 3 and of 4) is
             * accepted by RFC 6962 itself: the root does not commit to the
             * size. Everything else must fail. */
            inclusion_probe_moved(&log, &proof, leaves[i], root, i, n + 1,
                                  "size+1");
            inclusion_probe_moved(&log, &proof, leaves[i], root, i, n - 1,
                                  "size-1");
            inclusion_probe_moved(&log, &proof, leaves[i], root, i, n * 2,
                                  "size*2");
            inclusion_probe_moved(&log, &proof, leaves[i], root, i, n / 2,
                                  "size/2");
            same_shape +=
                shape_equal(inclusion_shape(i, n + 1), inclusion_shape(i, n));
        }
    }
    PROBE_LOG_CHECK(log);
    /* The oracle is not vacuous: some size+1 shapes do coincide. */
    ck_assert_int_gt(same_shape, 0);
}
END_TEST

START_TEST(test_merkle_inclusion_rejects_truncated_or_extended_path)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    uint8_t longer[MERKLE_PATH_MAX + 1][MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;
    struct probe_log log = {0, ""};

    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t(*cp)[MERKLE_HASH_SIZE] =
                (const uint8_t(*)[MERKLE_HASH_SIZE])longer;
            inclusion_setup(&proof, root, leaves, n, i);
            /* Extended at the end (by the root, then by zeros). */
            memcpy(longer, proof.path, proof.count * MERKLE_HASH_SIZE);
            memcpy(longer[proof.count], root, MERKLE_HASH_SIZE);
            probe_expect(&log,
                         merkle_inclusion_verify(leaves[i], i, n, cp,
                                                 proof.count + 1, root),
                         TDEI_BADPROOF, "trailing root", n, i, 0);
            memset(longer[proof.count], 0, MERKLE_HASH_SIZE);
            probe_expect(&log,
                         merkle_inclusion_verify(leaves[i], i, n, cp,
                                                 proof.count + 1, root),
                         TDEI_BADPROOF, "trailing zeros", n, i, 0);
            /* Extended at the front. */
            memcpy(longer[0], root, MERKLE_HASH_SIZE);
            memcpy(longer[1], proof.path, proof.count * MERKLE_HASH_SIZE);
            probe_expect(&log,
                         merkle_inclusion_verify(leaves[i], i, n, cp,
                                                 proof.count + 1, root),
                         TDEI_BADPROOF, "preceding root", n, i, 0);
            /* Truncated at either end. */
            if (proof.count > 0) {
                probe_expect(&log,
                             merkle_inclusion_verify(
                                 leaves[i], i, n,
                                 (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path,
                                 proof.count - 1, root),
                             TDEI_BADPROOF, "truncated end", n, i, 0);
                probe_expect(
                    &log,
                    merkle_inclusion_verify(
                        leaves[i], i, n,
                        (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path + 1,
                        proof.count - 1, root),
                    TDEI_BADPROOF, "truncated front", n, i, 0);
            }
        }
    }
    PROBE_LOG_CHECK(log);
}
END_TEST

/* ---- consistency properties ------------------------------------------- */

/* Prove @m -> @n and compute both roots; asserts success. */
static void consistency_setup(struct merkle_consistency *proof,
                              uint8_t old_root[MERKLE_HASH_SIZE],
                              uint8_t new_root[MERKLE_HASH_SIZE],
                              uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE],
                              uint64_t m, uint64_t n)
{
    const uint8_t(*cl)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])leaves;

    ck_assert_int_eq(merkle_consistency_prove(proof, cl, m, n), 0);
    reference_root(old_root, cl, (size_t)m);
    reference_root(new_root, cl, (size_t)n);
}

START_TEST(test_merkle_consistency_round_trips_every_pair)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t old_root[MERKLE_HASH_SIZE];
    uint8_t new_root[MERKLE_HASH_SIZE];
    struct merkle_consistency proof;
    struct probe_log log = {0, ""};

    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        for (uint64_t m = 1; m <= n; m++) {
            consistency_setup(&proof, old_root, new_root, leaves, m, n);
            probe_expect(&log, (int)proof.count,
                         m == n ? 0 : (int)consistency_shape(m, n).count,
                         "count", m, n, 0);
            probe_expect(&log, (int)merkle_consistency_path_count(m, n),
                         (int)proof.count, "path_count", m, n, 0);
            probe_expect(&log,
                         merkle_consistency_verify(
                             m, n, old_root, new_root,
                             (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path,
                             proof.count),
                         0, "verify", m, n, 0);
        }
    }
    PROBE_LOG_CHECK(log);
}
END_TEST

START_TEST(test_merkle_consistency_rejects_every_bit_flip)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t old_root[MERKLE_HASH_SIZE];
    uint8_t new_root[MERKLE_HASH_SIZE];
    struct merkle_consistency proof;
    struct probe_log log = {0, ""};
    int bits[8 * MERKLE_HASH_SIZE];
    unsigned salt = 0;

    prop_leaves(leaves);
    for (uint64_t n = 1; n <= PROP_SIZE_MAX; n++) {
        int full = n <= FLIP_FULL_SIZE_MAX;
        for (uint64_t m = 1; m <= n; m++, salt++) {
            const uint8_t(*path)[MERKLE_HASH_SIZE] =
                (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path;
            size_t flips;
            consistency_setup(&proof, old_root, new_root, leaves, m, n);
            for (size_t j = 0; j < proof.count; j++) {
                flips = flip_bits(bits, full, salt + 5u * (unsigned)j);
                for (size_t f = 0; f < flips; f++) {
                    uint8_t mask = (uint8_t)(1u << (bits[f] % 8));
                    proof.path[j][bits[f] / 8] ^= mask;
                    probe_expect(&log,
                                 merkle_consistency_verify(m, n, old_root,
                                                           new_root, path,
                                                           proof.count),
                                 TDEI_BADPROOF, "path bit", m, n,
                                 (long)j * 256 + bits[f]);
                    proof.path[j][bits[f] / 8] ^= mask;
                }
            }
            flips = flip_bits(bits, full, salt + 3u);
            for (size_t f = 0; f < flips; f++) {
                uint8_t mask = (uint8_t)(1u << (bits[f] % 8));
                old_root[bits[f] / 8] ^= mask;
                probe_expect(&log,
                             merkle_consistency_verify(m, n, old_root, new_root,
                                                       path, proof.count),
                             TDEI_BADPROOF, "old root bit", m, n, bits[f]);
                old_root[bits[f] / 8] ^= mask;
                new_root[bits[f] / 8] ^= mask;
                probe_expect(&log,
                             merkle_consistency_verify(m, n, old_root, new_root,
                                                       path, proof.count),
                             TDEI_BADPROOF, "new root bit", m, n, bits[f]);
                new_root[bits[f] / 8] ^= mask;
            }
            probe_expect(&log,
                         merkle_consistency_verify(m, n, old_root, new_root,
                                                   path, proof.count),
                         0, "restored", m, n, 0);
        }
    }
    PROBE_LOG_CHECK(log);
}
END_TEST

/* Verify the proof of (m, n) as (m2, n2): accepted exactly when both
 * descents have the same shape (and m2 < n2, as the path is not empty). */
static void consistency_probe_moved(struct probe_log *log,
                                    const struct merkle_consistency *proof,
                                    const uint8_t old_root[MERKLE_HASH_SIZE],
                                    const uint8_t new_root[MERKLE_HASH_SIZE],
                                    uint64_t m2, uint64_t n2, const char *what)
{
    int want = TDEI_BADPROOF;

    if (m2 >= 1 && m2 < n2 &&
        shape_equal(consistency_shape(m2, n2),
                    consistency_shape(proof->old_size, proof->new_size))) {
        want = 0;
    }
    probe_expect(
        log,
        merkle_consistency_verify(
            m2, n2, old_root, new_root,
            (const uint8_t(*)[MERKLE_HASH_SIZE])proof->path, proof->count),
        want, what, proof->old_size, proof->new_size, (long)(m2 * 1000 + n2));
}

START_TEST(test_merkle_consistency_rejects_bad_paths_and_sizes)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t old_root[MERKLE_HASH_SIZE];
    uint8_t new_root[MERKLE_HASH_SIZE];
    uint8_t longer[MERKLE_PATH_MAX + 1][MERKLE_HASH_SIZE];
    struct merkle_consistency proof;
    struct probe_log log = {0, ""};

    prop_leaves(leaves);
    for (uint64_t n = 2; n <= PROP_SIZE_MAX; n++) {
        for (uint64_t m = 1; m < n; m++) {
            const uint8_t(*path)[MERKLE_HASH_SIZE] =
                (const uint8_t(*)[MERKLE_HASH_SIZE])proof.path;
            const uint8_t(*cl)[MERKLE_HASH_SIZE] =
                (const uint8_t(*)[MERKLE_HASH_SIZE])longer;
            size_t count;

            consistency_setup(&proof, old_root, new_root, leaves, m, n);
            count = proof.count;
            probe_expect(
                &log,
                merkle_consistency_verify(m, n, old_root, new_root, path, 0),
                TDEI_BADPROOF, "empty path", m, n, 0);
            probe_expect(&log,
                         merkle_consistency_verify(m, n, old_root, new_root,
                                                   path, count - 1),
                         TDEI_BADPROOF, "truncated end", m, n, 0);
            probe_expect(&log,
                         merkle_consistency_verify(m, n, old_root, new_root,
                                                   path + 1, count - 1),
                         TDEI_BADPROOF, "truncated front", m, n, 0);
            probe_expect(&log,
                         merkle_consistency_verify(m, n, new_root, old_root,
                                                   path, count),
                         TDEI_BADPROOF, "swapped roots", m, n, 0);
            memcpy(longer, path, count * MERKLE_HASH_SIZE);
            memcpy(longer[count], path[count - 1], MERKLE_HASH_SIZE);
            probe_expect(&log,
                         merkle_consistency_verify(m, n, old_root, new_root, cl,
                                                   count + 1),
                         TDEI_BADPROOF, "repeated last", m, n, 0);
            memcpy(longer[count], new_root, MERKLE_HASH_SIZE);
            probe_expect(&log,
                         merkle_consistency_verify(m, n, old_root, new_root, cl,
                                                   count + 1),
                         TDEI_BADPROOF, "trailing new root", m, n, 0);
            memcpy(longer[0], old_root, MERKLE_HASH_SIZE);
            memcpy(longer[1], path, count * MERKLE_HASH_SIZE);
            probe_expect(&log,
                         merkle_consistency_verify(m, n, old_root, new_root, cl,
                                                   count + 1),
                         TDEI_BADPROOF, "preceding old root", m, n, 0);
            consistency_probe_moved(&log, &proof, old_root, new_root, m - 1, n,
                                    "old-1");
            consistency_probe_moved(&log, &proof, old_root, new_root, m + 1, n,
                                    "old+1");
            consistency_probe_moved(&log, &proof, old_root, new_root, m ^ 2, n,
                                    "old^2");
            consistency_probe_moved(&log, &proof, old_root, new_root, m, n - 1,
                                    "new-1");
            consistency_probe_moved(&log, &proof, old_root, new_root, m, n + 1,
                                    "new+1");
            consistency_probe_moved(&log, &proof, old_root, new_root, m, n * 2,
                                    "new*2");
            consistency_probe_moved(&log, &proof, old_root, new_root, m, n / 2,
                                    "new/2");
        }
    }
    PROBE_LOG_CHECK(log);
}
END_TEST

/* ---- edge cases ------------------------------------------------------- */

START_TEST(test_merkle_empty_tree_root_is_sha256_of_nothing)
{
    uint8_t got[MERKLE_HASH_SIZE];
    uint8_t want[MERKLE_HASH_SIZE];

    (void)testutil_unhex(want, sizeof(want),
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e464"
                         "9b934ca495991b7852b855");
    merkle_root(got, NULL, 0);
    ck_assert_mem_eq(got, want, MERKLE_HASH_SIZE);
}
END_TEST

START_TEST(test_merkle_single_leaf_has_empty_path_and_root_is_leaf)
{
    uint8_t leaf[1][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    uint8_t other[MERKLE_HASH_SIZE] = {0};
    struct merkle_inclusion proof;

    merkle_leaf_hash(leaf[0], (const uint8_t *)"data", 4);
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaf, 1);
    ck_assert_mem_eq(root, leaf[0], MERKLE_HASH_SIZE);
    ck_assert_int_eq(
        merkle_inclusion_prove(&proof, (const uint8_t(*)[MERKLE_HASH_SIZE])leaf,
                               1, 0),
        0);
    ck_assert_uint_eq(proof.count, 0);
    ck_assert_int_eq(merkle_inclusion_verify(leaf[0], 0, 1, NULL, 0, root), 0);
    ck_assert_int_eq(merkle_inclusion_verify(leaf[0], 0, 1, NULL, 0, other),
                     TDEI_BADPROOF);
    ck_assert_int_eq(merkle_inclusion_verify(other, 0, 1, NULL, 0, root),
                     TDEI_BADPROOF);
}
END_TEST

START_TEST(test_merkle_inclusion_rejects_index_not_below_size)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;
    const uint8_t(*cl)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])leaves;

    prop_leaves(leaves);
    memset(&proof, 0x5a, sizeof(proof));
    ck_assert_int_eq(merkle_inclusion_prove(&proof, cl, 4, 4), TDEI_INVAL);
    ck_assert_uint_eq(proof.count, 0); /* zeroed on failure */
    ck_assert_uint_eq(proof.tree_size, 0);
    ck_assert_int_eq(merkle_inclusion_prove(&proof, NULL, 0, 0), TDEI_INVAL);
    ck_assert_int_eq(merkle_inclusion_prove(&proof, cl, 4, UINT64_MAX),
                     TDEI_INVAL);
    merkle_root(root, cl, 0);
    /* The published probes (0,0), (1,0), (2,1) with an empty path. */
    ck_assert_int_eq(merkle_inclusion_verify(root, 0, 0, NULL, 0, root),
                     TDEI_BADPROOF);
    ck_assert_int_eq(merkle_inclusion_verify(root, 1, 0, NULL, 0, root),
                     TDEI_BADPROOF);
    ck_assert_int_eq(
        merkle_inclusion_verify(leaves[0], 2, 1, NULL, 0, leaves[0]),
        TDEI_BADPROOF);
    ck_assert_uint_eq(merkle_inclusion_path_count(4, 4), 0);
    ck_assert_uint_eq(merkle_inclusion_path_count(0, 0), 0);
}
END_TEST

START_TEST(test_merkle_consistency_rejects_bad_sizes)
{
    uint8_t leaves[PROP_SIZE_MAX][MERKLE_HASH_SIZE];
    uint8_t a[MERKLE_HASH_SIZE];
    uint8_t b[MERKLE_HASH_SIZE];
    struct merkle_consistency proof;
    const uint8_t(*cl)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])leaves;

    prop_leaves(leaves);
    merkle_root(a, cl, 3);
    merkle_root(b, cl, 4);
    memset(&proof, 0x5a, sizeof(proof));
    ck_assert_int_eq(merkle_consistency_prove(&proof, cl, 0, 4), TDEI_INVAL);
    ck_assert_uint_eq(proof.count, 0);
    ck_assert_int_eq(merkle_consistency_prove(&proof, cl, 5, 4), TDEI_INVAL);
    ck_assert_int_eq(merkle_consistency_prove(&proof, NULL, 0, 0), TDEI_INVAL);
    /* old == new: empty proof; verifies only with equal roots. */
    ck_assert_int_eq(merkle_consistency_prove(&proof, cl, 4, 4), 0);
    ck_assert_uint_eq(proof.count, 0);
    ck_assert_int_eq(merkle_consistency_verify(4, 4, b, b, NULL, 0), 0);
    ck_assert_int_eq(merkle_consistency_verify(4, 4, a, b, NULL, 0),
                     TDEI_BADPROOF);
    ck_assert_int_eq(
        merkle_consistency_verify(4, 4, b, b,
                                  (const uint8_t(*)[MERKLE_HASH_SIZE]) & b, 1),
        TDEI_BADPROOF);
    /* m = 0 is meaningless for any n > 0, whatever the path. */
    ck_assert_int_eq(merkle_consistency_verify(0, 4, a, b, NULL, 0),
                     TDEI_BADPROOF);
    ck_assert_int_eq(
        merkle_consistency_verify(0, 4, a, b,
                                  (const uint8_t(*)[MERKLE_HASH_SIZE]) & b, 1),
        TDEI_BADPROOF);
    /* m > n is time travel. */
    ck_assert_int_eq(merkle_consistency_verify(4, 3, b, a, NULL, 0),
                     TDEI_BADPROOF);
    ck_assert_int_eq(merkle_consistency_verify(5, 4, a, a, NULL, 0),
                     TDEI_BADPROOF);
    /* m < n with an empty path. */
    ck_assert_int_eq(merkle_consistency_verify(3, 4, a, b, NULL, 0),
                     TDEI_BADPROOF);
    ck_assert_uint_eq(merkle_consistency_path_count(0, 4), 0);
    ck_assert_uint_eq(merkle_consistency_path_count(5, 4), 0);
    ck_assert_uint_eq(merkle_consistency_path_count(4, 4), 0);
}
END_TEST

START_TEST(test_merkle_path_bounds_at_64_bit_sizes)
{
    uint8_t junk[MERKLE_PATH_MAX + 1][MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE] = {0};
    const uint64_t big = ((uint64_t)1 << 63) + 1;
    const uint8_t(*cj)[MERKLE_HASH_SIZE] =
        (const uint8_t(*)[MERKLE_HASH_SIZE])junk;

    memset(junk, 0x11, sizeof(junk));
    /* The bounds stated in merkle.h are reached, never exceeded. */
    ck_assert_uint_eq(merkle_inclusion_path_count(0, big),
                      MERKLE_INCLUSION_MAX);
    ck_assert_uint_eq(merkle_inclusion_path_count(big - 1, big), 1);
    ck_assert_uint_eq(merkle_inclusion_path_count(0, UINT64_MAX),
                      MERKLE_INCLUSION_MAX);
    ck_assert_uint_eq(merkle_consistency_path_count(3, big),
                      MERKLE_CONSISTENCY_MAX);
    ck_assert_uint_le(merkle_consistency_path_count(UINT64_MAX - 2, UINT64_MAX),
                      MERKLE_CONSISTENCY_MAX);
    /* Garbage of the right length at huge sizes fails cleanly. */
    ck_assert_int_eq(
        merkle_inclusion_verify(root, 0, big, cj, MERKLE_INCLUSION_MAX, root),
        TDEI_BADPROOF);
    ck_assert_int_eq(
        merkle_inclusion_verify(root, UINT64_MAX - 1, UINT64_MAX, cj, 64, root),
        TDEI_BADPROOF);
    ck_assert_int_eq(merkle_consistency_verify(3, big, root, root, cj,
                                               MERKLE_CONSISTENCY_MAX),
                     TDEI_BADPROOF);
    ck_assert_int_eq(
        merkle_consistency_verify(3, big, root, root, cj, MERKLE_PATH_MAX + 1),
        TDEI_BADPROOF);
    ck_assert_int_eq(merkle_consistency_verify(UINT64_MAX - 1, UINT64_MAX, root,
                                               root, cj, 2),
                     TDEI_BADPROOF);
}
END_TEST

START_TEST(test_merkle_node_hash_allows_aliasing)
{
    uint8_t left[MERKLE_HASH_SIZE];
    uint8_t right[MERKLE_HASH_SIZE];
    uint8_t want[MERKLE_HASH_SIZE];
    uint8_t buf[1 + 2 * MERKLE_HASH_SIZE];

    memset(left, 0xaa, sizeof(left));
    memset(right, 0xbb, sizeof(right));
    buf[0] = 0x01;
    memcpy(buf + 1, left, MERKLE_HASH_SIZE);
    memcpy(buf + 1 + MERKLE_HASH_SIZE, right, MERKLE_HASH_SIZE);
    tdei_sha256(want, buf, sizeof(buf));
    merkle_node_hash(left, left, right);
    ck_assert_mem_eq(left, want, MERKLE_HASH_SIZE);
}
END_TEST

static Suite *merkle_suite(void)
{
    Suite *suite = suite_create("merkle");
    struct
    {
        const char *name;
        const TTest *tests[8];
    } cases[] = {
        {"vectors",
         {test_merkle_leaf_hashes_match_vectors,
          test_merkle_roots_match_vectors,
          test_merkle_inclusion_vectors_prove_and_verify,
          test_merkle_consistency_vectors_prove_and_verify}},
        {"root", {test_merkle_root_matches_reference_every_size}},
        {"inclusion",
         {test_merkle_inclusion_round_trips_every_size_and_index,
          test_merkle_inclusion_rejects_every_bit_flip,
          test_merkle_inclusion_rejects_moved_index_or_size,
          test_merkle_inclusion_rejects_truncated_or_extended_path,
          test_merkle_levels_prove_as_the_tree_does}},
        {"consistency",
         {test_merkle_consistency_round_trips_every_pair,
          test_merkle_consistency_rejects_every_bit_flip,
          test_merkle_consistency_rejects_bad_paths_and_sizes}},
        {"edges",
         {test_merkle_empty_tree_root_is_sha256_of_nothing,
          test_merkle_single_leaf_has_empty_path_and_root_is_leaf,
          test_merkle_inclusion_rejects_index_not_below_size,
          test_merkle_consistency_rejects_bad_sizes,
          test_merkle_path_bounds_at_64_bit_sizes,
          test_merkle_node_hash_allows_aliasing}},
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        TCase *tc = tcase_create(cases[c].name);
        tcase_add_checked_fixture(tc, testutil_leak_setup,
                                  testutil_leak_teardown);
        /* The exhaustive loops take ~1-2 s; leave room for sanitizers. */
        tcase_set_timeout(tc, 120);
        for (size_t t = 0; t < 8 && cases[c].tests[t] != NULL; t++) {
            tcase_add_test(tc, cases[c].tests[t]);
        }
        suite_add_tcase(suite, tc);
    }
    return suite;
}

int main(void) { return testutil_run(merkle_suite()); }
