/* Tests of the payload layer (node/blob): chunk counts, nonces, sealing,
 * chunk checks against the content root, import and export, a consumer
 * store filled from an owner's store in random order across a reopen,
 * refusals, the map limit, and the node's records (content keys, batched
 * chunk puts, delivery settings, transfers). Roots are recomputed here
 * from the stored sealed chunks with merkle.h, independently of blob.c. */
#include "testutil.h"

#include "blob/blob.h"
#include "core/alloc.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/merkle.h"

#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KIB 1024u
#define MIB (1024u * 1024u)
#define MAP_MAX (1ull << 30)

static char tmpdir[4096];
static char path_a[4200];   /* the owner's blobs dir */
static char path_b[4200];   /* the consumer's blobs dir */
static char path_in[4200];  /* the payload */
static char path_out[4200]; /* an export */
static char errmsg[TDEI_ERRMSG_SIZE];

static void setup(void)
{
    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    (void)snprintf(path_a, sizeof(path_a), "%s/blobs-a", tmpdir);
    (void)snprintf(path_b, sizeof(path_b), "%s/blobs-b", tmpdir);
    (void)snprintf(path_in, sizeof(path_in), "%s/payload", tmpdir);
    (void)snprintf(path_out, sizeof(path_out), "%s/out", tmpdir);
    errmsg[0] = '\0';
}

static void teardown(void)
{
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

/* ---- helpers ------------------------------------------------------------- */

/* Write @size random bytes to @path; return them (free with free()). */
static uint8_t *write_random_file(const char *path, size_t size)
{
    uint8_t *data = malloc(size == 0 ? 1 : size);
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(data);
    ck_assert_ptr_nonnull(f);
    randombytes_buf(data, size);
    ck_assert_uint_eq(fwrite(data, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    return data;
}

/* Check that @path holds exactly @data (@size bytes). */
static void assert_file_equals(const char *path, const uint8_t *data,
                               size_t size)
{
    struct stat st;
    uint8_t *got;
    FILE *f;

    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq((uint64_t)st.st_size, size);
    got = malloc(size == 0 ? 1 : size);
    ck_assert_ptr_nonnull(got);
    f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(got, 1, size, f), size);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(memcmp(got, data, size), 0);
    free(got);
}

static int file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static struct blob_store *open_ok(const char *path, uint64_t map_max)
{
    struct blob_store *s = NULL;
    int rc = blob_store_open(&s, path, map_max, errmsg);

    ck_assert_msg(rc == 0, "blob_store_open: %s: %s", tdei_errname(rc),
                  errmsg);
    ck_assert_ptr_nonnull(s);
    return s;
}

struct imported
{
    uint8_t key[BLOB_KEY_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    uint64_t size;
    uint64_t count;
};

static void import_ok(struct blob_store *s, const char *path,
                      struct imported *im)
{
    int rc = blob_import_file(s, path, "ds-1", 3, im->key, im->root,
                              &im->size, &im->count, errmsg);

    ck_assert_msg(rc == 0, "blob_import_file: %s: %s", tdei_errname(rc),
                  errmsg);
}

static uint64_t missing_count(struct blob_store *s, const uint8_t *root,
                              uint64_t *indexes, size_t cap)
{
    size_t n = 0;

    ck_assert_int_eq(blob_missing(s, root, indexes, cap, &n, errmsg), 0);
    return n;
}

/* ---- pure functions ------------------------------------------------------ */

START_TEST(test_blob_chunk_count_edges)
{
    ck_assert_uint_eq(blob_chunk_count(0), 1);
    ck_assert_uint_eq(blob_chunk_count(1), 1);
    ck_assert_uint_eq(blob_chunk_count(64 * KIB - 1), 1);
    ck_assert_uint_eq(blob_chunk_count(64 * KIB), 1);
    ck_assert_uint_eq(blob_chunk_count(64 * KIB + 1), 2);
    ck_assert_uint_eq(blob_chunk_count(2 * 64 * KIB), 2);
    ck_assert_uint_eq(blob_chunk_count(5 * MIB), 80);
    ck_assert_uint_eq(blob_chunk_count(5 * MIB + 1), 81);
    ck_assert_uint_eq(blob_chunk_count(BLOB_SIZE_MAX), BLOB_CHUNK_COUNT_MAX);
}
END_TEST

/* The nonce as the protocol defines it, built here byte by byte. */
static void reference_nonce(uint8_t nonce[24], const char *id, uint32_t v,
                            uint64_t index)
{
    uint8_t buf[1 + 255 + 4 + 8];
    uint8_t digest[32];
    size_t len = strlen(id);
    size_t p = 0;

    buf[p++] = (uint8_t)len;
    memcpy(buf + p, id, len);
    p += len;
    for (int i = 3; i >= 0; i--) {
        buf[p++] = (uint8_t)(v >> (8 * i));
    }
    for (int i = 7; i >= 0; i--) {
        buf[p++] = (uint8_t)(index >> (8 * i));
    }
    tdei_tagged_hash(digest, "tdei/chunk", buf, p);
    memcpy(nonce, digest, 24);
}

START_TEST(test_blob_nonce_depends_on_id_version_index)
{
    static const struct
    {
        const char *id;
        uint32_t version;
        uint64_t index;
    } cases[] = {
        {"ds-1", 1, 0},          {"ds-2", 1, 0}, {"ds-1", 2, 0},
        {"ds-1", 1, 1},          {"ds-1", 2, 1}, {"ds-10", 1, 0},
        {"ds-1", 1, 1ull << 32}, {"d", 0, 0},    {"ds-1", 0x01000000u, 0},
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    uint8_t nonces[N][BLOB_NONCE_SIZE];

    for (size_t i = 0; i < N; i++) {
        uint8_t ref[BLOB_NONCE_SIZE];
        blob_chunk_nonce(nonces[i], cases[i].id, cases[i].version,
                         cases[i].index);
        reference_nonce(ref, cases[i].id, cases[i].version, cases[i].index);
        ck_assert_mem_eq(nonces[i], ref, BLOB_NONCE_SIZE);
        for (size_t j = 0; j < i; j++) {
            ck_assert_msg(memcmp(nonces[i], nonces[j], BLOB_NONCE_SIZE) != 0,
                          "cases %zu and %zu share a nonce", i, j);
        }
    }
}
END_TEST

START_TEST(test_blob_seal_open_round_trip_and_tamper)
{
    static const size_t sizes[] = {0, 1, 100, 64 * KIB - 1, 64 * KIB};
    uint8_t key[BLOB_KEY_SIZE];
    uint8_t other[BLOB_KEY_SIZE];
    uint8_t *plain = malloc(BLOB_CHUNK_SIZE + 1);
    uint8_t *back = malloc(BLOB_CHUNK_SIZE);
    uint8_t *sealed = malloc(BLOB_SEALED_SIZE_MAX + 16);
    size_t slen = 0;
    size_t plen = 0;

    ck_assert_ptr_nonnull(plain);
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_nonnull(sealed);
    randombytes_buf(key, sizeof(key));
    memcpy(other, key, sizeof(key));
    other[31] ^= 1;
    randombytes_buf(plain, BLOB_CHUNK_SIZE + 1);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        ck_assert_int_eq(blob_chunk_seal(sealed, &slen, plain, n, key, "ds",
                                         7, 5, errmsg),
                         0);
        ck_assert_uint_eq(slen, n + BLOB_TAG_SIZE);
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, key, "ds",
                                         7, 5, errmsg),
                         0);
        ck_assert_uint_eq(plen, n);
        ck_assert_int_eq(memcmp(back, plain, n), 0);
        /* A flipped bit anywhere (ciphertext and tag) fails. */
        for (size_t pos = 0; pos < slen; pos += (pos < 64 ? 1 : 997)) {
            sealed[pos] ^= (uint8_t)(1u << (pos % 8));
            ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, key,
                                             "ds", 7, 5, errmsg),
                             TDEI_BADSIG);
            ck_assert_uint_eq(plen, 0);
            sealed[pos] ^= (uint8_t)(1u << (pos % 8));
        }
        sealed[slen - 1] ^= 0x80;
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, key, "ds",
                                         7, 5, errmsg),
                         TDEI_BADSIG);
        sealed[slen - 1] ^= 0x80;
        /* Wrong key, index, version or dataset id fail. */
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, other,
                                         "ds", 7, 5, errmsg),
                         TDEI_BADSIG);
        ck_assert_ptr_nonnull(strstr(errmsg, "failed authentication"));
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, key, "ds",
                                         7, 6, errmsg),
                         TDEI_BADSIG);
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, key, "ds",
                                         8, 5, errmsg),
                         TDEI_BADSIG);
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed, slen, key, "dt",
                                         7, 5, errmsg),
                         TDEI_BADSIG);
        /* Truncation below the tag is malformed, not a crash. */
        ck_assert_int_eq(blob_chunk_open(back, &plen, sealed,
                                         BLOB_TAG_SIZE - 1, key, "ds", 7, 5,
                                         errmsg),
                         TDEI_MALFORMED);
    }
    ck_assert_int_eq(blob_chunk_seal(sealed, &slen, plain, BLOB_CHUNK_SIZE + 1,
                                     key, "ds", 7, 5, errmsg),
                     TDEI_TOOBIG);
    ck_assert_int_eq(
        blob_chunk_seal(sealed, &slen, plain, 10, key, "", 7, 5, errmsg),
        TDEI_INVAL);
    free(plain);
    free(back);
    free(sealed);
}
END_TEST

/* ---- import and export --------------------------------------------------- */

START_TEST(test_blob_import_root_matches_and_export_identical)
{
    size_t size = MIB + 123;
    uint8_t *data = write_random_file(path_in, size);
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    struct imported im;
    uint8_t sealed[BLOB_SEALED_SIZE_MAX];
    uint8_t plain[BLOB_CHUNK_SIZE];
    uint8_t (*leaves)[MERKLE_HASH_SIZE];
    uint8_t root[MERKLE_HASH_SIZE];
    struct merkle_inclusion proof;
    struct blob_info info;
    size_t len = 0;
    size_t plen = 0;
    char tmp_path[4300];

    import_ok(s, path_in, &im);
    ck_assert_uint_eq(im.size, size);
    ck_assert_uint_eq(im.count, 17);
    leaves = calloc(im.count, MERKLE_HASH_SIZE);
    ck_assert_ptr_nonnull(leaves);
    for (uint64_t i = 0; i < im.count; i++) {
        size_t want = i + 1 < im.count ? BLOB_CHUNK_SIZE : 123;
        ck_assert_int_eq(
            blob_get_chunk(s, im.root, i, sealed, &len, &proof, errmsg), 0);
        ck_assert_uint_eq(len, want + BLOB_TAG_SIZE);
        merkle_leaf_hash(leaves[i], sealed, len);
        /* The stored chunk decrypts to the file's bytes. */
        ck_assert_int_eq(blob_chunk_open(plain, &plen, sealed, len, im.key,
                                         "ds-1", 3, i, errmsg),
                         0);
        ck_assert_uint_eq(plen, want);
        ck_assert_int_eq(memcmp(plain, data + i * BLOB_CHUNK_SIZE, want), 0);
        /* Its proof verifies against the root. */
        ck_assert_int_eq(blob_chunk_check(im.root, im.count, i, sealed, len,
                                          &proof, errmsg),
                         0);
    }
    merkle_root(root, (const uint8_t(*)[MERKLE_HASH_SIZE])leaves, im.count);
    ck_assert_mem_eq(root, im.root, MERKLE_HASH_SIZE);
    ck_assert_int_eq(blob_info(s, im.root, &info), 0);
    ck_assert_int_eq(info.state, BLOB_STATE_COMPLETE);
    ck_assert_str_eq(info.dataset_id, "ds-1");
    ck_assert_uint_eq(info.version, 3);
    ck_assert_uint_eq(info.size, size);
    ck_assert_uint_eq(info.chunks_present, 17);
    ck_assert_uint_eq(missing_count(s, im.root, NULL, 0), 0);

    ck_assert_int_eq(blob_export_file(s, im.root, im.key, path_out, errmsg),
                     0);
    assert_file_equals(path_out, data, size);
    (void)snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path_out);
    ck_assert(!file_exists(tmp_path));
    blob_store_close(s);
    free(leaves);
    free(data);
}
END_TEST

START_TEST(test_blob_import_twice_gives_fresh_key_and_root)
{
    uint8_t *data = write_random_file(path_in, 1000);
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    struct imported a;
    struct imported b;

    import_ok(s, path_in, &a);
    import_ok(s, path_in, &b);
    ck_assert(memcmp(a.key, b.key, BLOB_KEY_SIZE) != 0);
    ck_assert(memcmp(a.root, b.root, BLOB_ROOT_SIZE) != 0);
    blob_store_close(s);
    free(data);
}
END_TEST

START_TEST(test_blob_empty_payload_is_one_empty_chunk)
{
    uint8_t *data = write_random_file(path_in, 0);
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    uint8_t sealed[BLOB_SEALED_SIZE_MAX];
    struct merkle_inclusion proof;
    uint8_t leaf[MERKLE_HASH_SIZE];
    struct imported im;
    size_t len = 0;

    import_ok(s, path_in, &im);
    ck_assert_uint_eq(im.size, 0);
    ck_assert_uint_eq(im.count, 1);
    ck_assert_int_eq(
        blob_get_chunk(s, im.root, 0, sealed, &len, &proof, errmsg), 0);
    ck_assert_uint_eq(len, BLOB_TAG_SIZE);
    ck_assert_uint_eq(proof.count, 0);
    merkle_leaf_hash(leaf, sealed, len);
    ck_assert_mem_eq(leaf, im.root, MERKLE_HASH_SIZE); /* root of 1 leaf */
    ck_assert_int_eq(blob_export_file(s, im.root, im.key, path_out, errmsg),
                     0);
    assert_file_equals(path_out, data, 0);
    blob_store_close(s);
    free(data);
}
END_TEST

/* ---- the consumer side --------------------------------------------------- */

/* Expect @len to be refused with @code and nothing to change. */
static void assert_refused(struct blob_store *b, const struct imported *im,
                           uint64_t index, const uint8_t *sealed, size_t len,
                           const struct merkle_inclusion *proof, int code,
                           uint64_t present)
{
    struct blob_info info;
    int rc = blob_put_chunk(b, im->root, index, sealed, len, proof, errmsg);

    ck_assert_msg(rc == code, "put chunk %" PRIu64 ": got %s (%s), want %s",
                  index, tdei_errname(rc), errmsg, tdei_errname(code));
    ck_assert_int_eq(blob_info(b, im->root, &info), 0);
    ck_assert_uint_eq(info.chunks_present, present);
    ck_assert_int_eq(info.state, BLOB_STATE_PARTIAL);
}

START_TEST(test_blob_consumer_random_order_with_resume)
{
    size_t size = 20 * BLOB_CHUNK_SIZE + 4321; /* 21 chunks */
    uint8_t *data = write_random_file(path_in, size);
    struct blob_store *a = open_ok(path_a, MAP_MAX);
    struct blob_store *b = open_ok(path_b, MAP_MAX);
    uint8_t sealed[BLOB_SEALED_SIZE_MAX + 1];
    uint8_t other[BLOB_SEALED_SIZE_MAX];
    struct merkle_inclusion proof;
    struct merkle_inclusion other_proof;
    struct blob_info info;
    uint64_t order[21];
    uint64_t missing[32];
    uint8_t have[21] = {0};
    struct imported im;
    size_t len = 0;
    size_t other_len = 0;

    import_ok(a, path_in, &im);
    ck_assert_uint_eq(im.count, 21);
    ck_assert_int_eq(blob_expect(b, im.root, "ds-1", 3, im.size, im.count,
                                 errmsg),
                     0);
    ck_assert_int_eq(blob_expect(b, im.root, "ds-1", 3, im.size, im.count,
                                 errmsg),
                     0); /* idempotent */
    ck_assert_int_eq(blob_info(b, im.root, &info), 0);
    ck_assert_int_eq(info.state, BLOB_STATE_PARTIAL);
    ck_assert_uint_eq(info.chunks_present, 0);
    ck_assert_uint_eq(missing_count(b, im.root, missing, 32), 21);
    for (uint64_t i = 0; i < 21; i++) {
        ck_assert_uint_eq(missing[i], i);
        order[i] = i;
    }
    for (size_t i = 20; i > 0; i--) { /* Fisher-Yates, libsodium RNG */
        size_t j = randombytes_uniform((uint32_t)(i + 1));
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < 21; k++) {
        uint64_t i = order[k];
        uint64_t o = (i + 1) % 20; /* another full-size chunk */
        ck_assert_int_eq(
            blob_get_chunk(a, im.root, i, sealed, &len, &proof, errmsg), 0);
        ck_assert_int_eq(blob_get_chunk(a, im.root, o, other, &other_len,
                                        &other_proof, errmsg),
                         0);
        /* A flipped bit, another chunk's proof, another index, and a
         * wrong length are refused and store nothing. */
        sealed[len / 2] ^= 4;
        assert_refused(b, &im, i, sealed, len, &proof, TDEI_BADPROOF, k);
        sealed[len / 2] ^= 4;
        assert_refused(b, &im, i, sealed, len, &other_proof, TDEI_BADPROOF, k);
        if (other_len == len) {
            assert_refused(b, &im, i, other, other_len, &proof, TDEI_BADPROOF,
                           k);
        }
        assert_refused(b, &im, o, sealed, len, &proof,
                       len == other_len ? TDEI_BADPROOF : TDEI_MALFORMED, k);
        assert_refused(b, &im, i, sealed, len - 1, &proof,
                       i == 20 ? TDEI_BADPROOF : TDEI_MALFORMED, k);
        sealed[len] = 0;
        assert_refused(b, &im, i, sealed, len + 1, &proof,
                       i == 20 ? TDEI_BADPROOF : TDEI_MALFORMED, k);
        assert_refused(b, &im, 21, sealed, len, &proof, TDEI_INVAL, k);
        /* The right chunk is stored, and a duplicate changes nothing. */
        ck_assert_int_eq(
            blob_put_chunk(b, im.root, i, sealed, len, &proof, errmsg), 0);
        ck_assert_int_eq(
            blob_put_chunk(b, im.root, i, sealed, len, &proof, errmsg), 0);
        have[i] = 1;
        ck_assert_int_eq(blob_info(b, im.root, &info), 0);
        ck_assert_uint_eq(info.chunks_present, k + 1);
        ck_assert_int_eq(info.state, k + 1 == 21 ? BLOB_STATE_COMPLETE
                                                 : BLOB_STATE_PARTIAL);
        /* blob_missing lists exactly the chunks not received, in order. */
        {
            size_t n = missing_count(b, im.root, missing, 32);
            size_t m = 0;
            ck_assert_uint_eq(n, 20 - k);
            for (uint64_t j = 0; j < 21; j++) {
                if (!have[j]) {
                    ck_assert_uint_eq(missing[m++], j);
                }
            }
            ck_assert_uint_eq(m, n);
            /* A small cap gives the first ones. */
            if (n >= 2) {
                uint64_t two[2];
                ck_assert_uint_eq(missing_count(b, im.root, two, 2), 2);
                ck_assert_uint_eq(two[0], missing[0]);
                ck_assert_uint_eq(two[1], missing[1]);
            }
        }
        if (k == 10) {
            /* Restart: the received chunks survive, none is refetched. */
            blob_store_close(b);
            b = open_ok(path_b, MAP_MAX);
            ck_assert_uint_eq(missing_count(b, im.root, missing, 32), 10);
        }
        if (k < 20) {
            ck_assert_int_eq(
                blob_export_file(b, im.root, im.key, path_out, errmsg),
                TDEI_NOTFOUND); /* still partial */
            ck_assert(!file_exists(path_out));
        }
    }
    ck_assert_int_eq(blob_export_file(b, im.root, im.key, path_out, errmsg),
                     0);
    assert_file_equals(path_out, data, size);
    /* The consumer can now serve proofs too. */
    ck_assert_int_eq(
        blob_get_chunk(b, im.root, 7, sealed, &len, &proof, errmsg), 0);
    ck_assert_int_eq(
        blob_chunk_check(im.root, im.count, 7, sealed, len, &proof, errmsg),
        0);
    blob_store_close(a);
    blob_store_close(b);
    free(data);
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

START_TEST(test_blob_refusals)
{
    uint8_t *data = write_random_file(path_in, 3 * BLOB_CHUNK_SIZE);
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    struct blob_store *again = NULL;
    uint8_t unknown[BLOB_ROOT_SIZE];
    uint8_t sealed[BLOB_SEALED_SIZE_MAX];
    uint8_t key[BLOB_KEY_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    struct merkle_inclusion proof;
    struct blob_info info;
    struct imported im;
    uint64_t size = 1;
    uint64_t count = 1;
    size_t len = 0;
    size_t n = 0;
    char missing_path[4300];
    char tmp_path[4300];

    (void)snprintf(missing_path, sizeof(missing_path), "%s/none", tmpdir);
    (void)snprintf(tmp_path, sizeof(tmp_path), "%s.tmp", path_out);
    ck_assert_int_eq(blob_import_file(s, missing_path, "ds", 1, key, root,
                                      &size, &count, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(errmsg, missing_path));
    ck_assert_uint_eq(size, 0);
    ck_assert_int_eq(
        blob_import_file(s, tmpdir, "ds", 1, key, root, &size, &count, errmsg),
        TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "not a regular file"));
    ck_assert_int_eq(
        blob_import_file(s, path_in, "", 1, key, root, &size, &count, errmsg),
        TDEI_INVAL);

    randombytes_buf(unknown, sizeof(unknown));
    ck_assert_int_eq(blob_info(s, unknown, &info), TDEI_NOTFOUND);
    ck_assert_int_eq(
        blob_get_chunk(s, unknown, 0, sealed, &len, &proof, errmsg),
        TDEI_NOTFOUND);
    ck_assert_int_eq(blob_missing(s, unknown, NULL, 0, &n, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_int_eq(blob_export_file(s, unknown, key, path_out, errmsg),
                     TDEI_NOTFOUND);
    ck_assert(!file_exists(path_out));

    import_ok(s, path_in, &im);
    ck_assert_int_eq(
        blob_get_chunk(s, im.root, 0, sealed, &len, &proof, errmsg), 0);
    ck_assert_int_eq(
        blob_put_chunk(s, unknown, 0, sealed, len, &proof, errmsg),
        TDEI_NOTFOUND);
    ck_assert_int_eq(
        blob_get_chunk(s, im.root, 3, sealed, &len, &proof, errmsg),
        TDEI_NOTFOUND);

    /* Export with the wrong key: an authentication error and no file. */
    memcpy(key, im.key, sizeof(key));
    key[0] ^= 1;
    ck_assert_int_eq(blob_export_file(s, im.root, key, path_out, errmsg),
                     TDEI_BADSIG);
    ck_assert_ptr_nonnull(strstr(errmsg, "failed authentication"));
    ck_assert(!file_exists(path_out));
    ck_assert(!file_exists(tmp_path));

    /* blob_expect refuses a conflicting or inconsistent manifest. */
    ck_assert_int_eq(blob_expect(s, im.root, "ds-1", 3, im.size, im.count,
                                 errmsg),
                     0); /* the same fields: already there */
    ck_assert_int_eq(blob_expect(s, im.root, "ds-1", 4, im.size, im.count,
                                 errmsg),
                     TDEI_EXISTS);
    ck_assert_int_eq(blob_expect(s, unknown, "ds-1", 3, 100, 2, errmsg),
                     TDEI_INVAL);
    ck_assert_int_eq(blob_expect(s, unknown, "ds-1", 3, BLOB_SIZE_MAX + 1,
                                 blob_chunk_count(BLOB_SIZE_MAX + 1), errmsg),
                     TDEI_INVAL);

    /* A second open of the same directory is refused. */
    ck_assert_int_eq(blob_store_open(&again, path_a, MAP_MAX, errmsg),
                     TDEI_LOCKED);
    ck_assert_ptr_null(again);
    ck_assert_int_eq(blob_store_open(&again, path_b, 1000, errmsg),
                     TDEI_CONFIG);
    blob_store_close(s);
    free(data);
}
END_TEST

/* A blob store stamped with another format version is refused at open,
 * and a new one is stamped with this version. */
START_TEST(test_blob_store_of_another_version_is_refused)
{
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    uint8_t v2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val k = {.mv_size = 12, .mv_data = "blob.version"};
    MDB_val v;

    blob_store_close(s);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
    ck_assert_int_eq(mdb_env_open(env, path_a, MDB_NOTLS, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ck_assert_int_eq(mdb_get(txn, meta, &k, &v), 0);
    ck_assert_uint_eq(v.mv_size, 8);
    ck_assert_uint_eq(((const uint8_t *)v.mv_data)[7], BLOB_FORMAT_VERSION);
    v.mv_size = sizeof(v2);
    v.mv_data = v2;
    ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    s = NULL;
    ck_assert_int_eq(blob_store_open(&s, path_a, MAP_MAX, errmsg),
                     TDEI_VERSION);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(errmsg, "another format version"));
}
END_TEST

START_TEST(test_blob_import_over_map_limit_leaves_nothing_complete)
{
    /* 12 MiB into a map of at most 6 MiB: the first batches fit, a later
     * one does not. */
    uint8_t *data = write_random_file(path_in, 12 * MIB);
    struct blob_store *s = open_ok(path_a, 6 * MIB);
    uint8_t key[BLOB_KEY_SIZE];
    uint8_t root[BLOB_ROOT_SIZE];
    uint64_t size = 0;
    uint64_t count = 0;
    struct imported im;

    ck_assert_int_eq(blob_import_file(s, path_in, "ds", 1, key, root, &size,
                                      &count, errmsg),
                     TDEI_NOSPACE);
    ck_assert_ptr_nonnull(strstr(errmsg, "map_size_max"));
    blob_store_close(s);
    /* The store still works: a small payload fits after the cleanup. */
    free(data);
    data = write_random_file(path_in, 100 * KIB);
    s = open_ok(path_a, 6 * MIB);
    import_ok(s, path_in, &im);
    ck_assert_int_eq(blob_export_file(s, im.root, im.key, path_out, errmsg),
                     0);
    assert_file_equals(path_out, data, 100 * KIB);
    blob_store_close(s);
    free(data);
}
END_TEST

/* ---- the node's records ---------------------------------------------------
 */

START_TEST(test_blob_import_keeps_its_key_and_consumer_has_none)
{
    uint8_t *data = write_random_file(path_in, 2 * BLOB_CHUNK_SIZE + 9);
    struct blob_store *a = open_ok(path_a, MAP_MAX);
    struct blob_store *b = open_ok(path_b, MAP_MAX);
    uint8_t sealed[BLOB_SEALED_SIZE_MAX];
    uint8_t key[BLOB_KEY_SIZE];
    struct merkle_inclusion proof;
    struct imported im;
    size_t len = 0;

    import_ok(a, path_in, &im);
    ck_assert_int_eq(blob_key_get(a, im.root, key, errmsg), 0);
    ck_assert_int_eq(memcmp(key, im.key, BLOB_KEY_SIZE), 0);
    /* It survives a reopen. */
    blob_store_close(a);
    a = open_ok(path_a, MAP_MAX);
    memset(key, 0, sizeof(key));
    ck_assert_int_eq(blob_key_get(a, im.root, key, errmsg), 0);
    ck_assert_int_eq(memcmp(key, im.key, BLOB_KEY_SIZE), 0);
    /* A consumer that stores every chunk still has no key for it. */
    ck_assert_int_eq(
        blob_expect(b, im.root, "ds-1", 3, im.size, im.count, errmsg), 0);
    for (uint64_t i = 0; i < im.count; i++) {
        ck_assert_int_eq(
            blob_get_chunk(a, im.root, i, sealed, &len, &proof, errmsg), 0);
        ck_assert_int_eq(
            blob_put_chunk(b, im.root, i, sealed, len, &proof, errmsg), 0);
    }
    memset(key, 7, sizeof(key));
    ck_assert_int_eq(blob_key_get(b, im.root, key, errmsg), TDEI_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(errmsg, "content key"));
    for (size_t i = 0; i < BLOB_KEY_SIZE; i++) {
        ck_assert_uint_eq(key[i], 0); /* zeroed on failure */
    }
    blob_store_close(a);
    blob_store_close(b);
    free(data);
}
END_TEST

/* Fill @c with chunk @index of @root as @a serves it, into @buf. */
static void chunk_from(struct blob_store *a, const uint8_t *root,
                       uint64_t index, uint8_t *buf,
                       struct merkle_inclusion *proof, struct blob_chunk_in *c)
{
    memset(c, 0, sizeof(*c));
    ck_assert_int_eq(
        blob_get_chunk(a, root, index, buf, &c->len, proof, errmsg), 0);
    c->index = index;
    c->sealed = buf;
    c->proof = proof;
}

START_TEST(test_blob_put_chunks_gives_each_chunk_its_outcome)
{
    uint8_t *data = write_random_file(path_in, 5 * BLOB_CHUNK_SIZE + 100);
    struct blob_store *a = open_ok(path_a, MAP_MAX);
    struct blob_store *b = open_ok(path_b, MAP_MAX);
    static uint8_t bufs[6][BLOB_SEALED_SIZE_MAX];
    struct merkle_inclusion proofs[6];
    struct blob_chunk_in c[6];
    struct blob_info info;
    struct imported im;
    uint64_t missing[8];

    import_ok(a, path_in, &im);
    ck_assert_uint_eq(im.count, 6);
    /* No manifest yet: nothing is stored, the call fails as a whole. */
    chunk_from(a, im.root, 0, bufs[0], &proofs[0], &c[0]);
    ck_assert_int_eq(blob_put_chunks(b, im.root, c, 1, errmsg), TDEI_NOTFOUND);
    ck_assert_int_eq(c[0].is_new, 0);
    ck_assert_int_eq(
        blob_expect(b, im.root, "ds-1", 3, im.size, im.count, errmsg), 0);
    /* One batch: chunk 0, chunk 1 with a flipped bit, chunk 2 with chunk
     * 3's proof, chunk 0 again, chunk 5, and index 6 (out of range). */
    chunk_from(a, im.root, 0, bufs[0], &proofs[0], &c[0]);
    chunk_from(a, im.root, 1, bufs[1], &proofs[1], &c[1]);
    bufs[1][100] ^= 1;
    chunk_from(a, im.root, 2, bufs[2], &proofs[2], &c[2]);
    chunk_from(a, im.root, 3, bufs[3], &proofs[3], &c[3]);
    c[2].proof = &proofs[3];
    c[3] = c[0];
    chunk_from(a, im.root, 5, bufs[5], &proofs[5], &c[4]);
    c[5] = c[4];
    c[5].index = 6;
    ck_assert_int_eq(blob_put_chunks(b, im.root, c, 6, errmsg), 0);
    ck_assert_int_eq(c[0].rc, 0);
    ck_assert_int_eq(c[0].is_new, 1);
    ck_assert_int_eq(c[1].rc, TDEI_BADPROOF);
    ck_assert_int_eq(c[1].is_new, 0);
    ck_assert_ptr_nonnull(strstr(c[1].errmsg, "chunk 1"));
    ck_assert_int_eq(c[2].rc, TDEI_BADPROOF);
    ck_assert_int_eq(c[3].rc, 0); /* a duplicate in the same batch */
    ck_assert_int_eq(c[3].is_new, 0);
    ck_assert_int_eq(c[4].rc, 0);
    ck_assert_int_eq(c[4].is_new, 1);
    ck_assert_int_eq(c[5].rc, TDEI_INVAL);
    ck_assert_int_eq(blob_info(b, im.root, &info), 0);
    ck_assert_uint_eq(info.chunks_present, 2);
    ck_assert_int_eq(info.state, BLOB_STATE_PARTIAL);
    ck_assert_uint_eq(missing_count(b, im.root, missing, 8), 4);
    ck_assert_uint_eq(missing[0], 1);
    ck_assert_uint_eq(missing[1], 2);
    ck_assert_uint_eq(missing[2], 3);
    ck_assert_uint_eq(missing[3], 4);
    /* The rest in one batch completes the blob; 0 comes again. */
    for (uint64_t i = 1; i <= 4; i++) {
        chunk_from(a, im.root, i, bufs[i], &proofs[i], &c[i - 1]);
    }
    chunk_from(a, im.root, 0, bufs[0], &proofs[0], &c[4]);
    ck_assert_int_eq(blob_put_chunks(b, im.root, c, 5, errmsg), 0);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(c[i].rc, 0);
        ck_assert_int_eq(c[i].is_new, i < 4);
    }
    ck_assert_int_eq(blob_info(b, im.root, &info), 0);
    ck_assert_int_eq(info.state, BLOB_STATE_COMPLETE);
    ck_assert_uint_eq(info.chunks_present, 6);
    ck_assert_int_eq(blob_export_file(b, im.root, im.key, path_out, errmsg), 0);
    assert_file_equals(path_out, data, 5 * BLOB_CHUNK_SIZE + 100);
    blob_store_close(a);
    blob_store_close(b);
    free(data);
}
END_TEST

START_TEST(test_blob_delivery_setting_persists_and_refuses_bad_ids)
{
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    char long_id[BLOB_DATASET_ID_MAX + 2];
    int manual = -1;

    ck_assert_int_eq(blob_delivery_get(s, "ds-1", &manual, errmsg), 0);
    ck_assert_int_eq(manual, 0); /* never set: automatic */
    ck_assert_int_eq(blob_delivery_set(s, "ds-1", 1, errmsg), 0);
    ck_assert_int_eq(blob_delivery_set(s, "ds-2", 0, errmsg), 0);
    blob_store_close(s);
    s = open_ok(path_a, MAP_MAX);
    ck_assert_int_eq(blob_delivery_get(s, "ds-1", &manual, errmsg), 0);
    ck_assert_int_eq(manual, 1);
    ck_assert_int_eq(blob_delivery_get(s, "ds-2", &manual, errmsg), 0);
    ck_assert_int_eq(manual, 0);
    ck_assert_int_eq(blob_delivery_set(s, "ds-1", 0, errmsg), 0);
    ck_assert_int_eq(blob_delivery_get(s, "ds-1", &manual, errmsg), 0);
    ck_assert_int_eq(manual, 0);
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    ck_assert_int_eq(blob_delivery_set(s, "", 1, errmsg), TDEI_INVAL);
    ck_assert_int_eq(blob_delivery_set(s, long_id, 1, errmsg), TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "256 bytes"));
    manual = -1;
    ck_assert_int_eq(blob_delivery_get(s, long_id, &manual, errmsg),
                     TDEI_INVAL);
    ck_assert_int_eq(manual, 0);
    blob_store_close(s);
}
END_TEST

START_TEST(test_blob_transfers_listed_in_root_order_across_reopen)
{
    struct blob_store *s = open_ok(path_a, MAP_MAX);
    uint8_t roots[3][BLOB_ROOT_SIZE];
    uint8_t xids[3][BLOB_XID_SIZE];
    uint8_t got_roots[4][BLOB_ROOT_SIZE];
    uint8_t got_xids[4][BLOB_XID_SIZE];
    size_t n = 99;

    ck_assert_int_eq(blob_transfer_list(s, got_roots, got_xids, 4, &n, errmsg),
                     0);
    ck_assert_uint_eq(n, 0);
    for (int i = 0; i < 3; i++) {
        memset(roots[i], 0x30 - 0x10 * i, BLOB_ROOT_SIZE); /* descending */
        memset(xids[i], 0xa0 + i, BLOB_XID_SIZE);
        ck_assert_int_eq(blob_transfer_put(s, roots[i], xids[i], errmsg), 0);
    }
    /* Replacing keeps one record per root. */
    memset(xids[1], 0xee, BLOB_XID_SIZE);
    ck_assert_int_eq(blob_transfer_put(s, roots[1], xids[1], errmsg), 0);
    blob_store_close(s);
    s = open_ok(path_a, MAP_MAX);
    ck_assert_int_eq(blob_transfer_list(s, got_roots, got_xids, 4, &n, errmsg),
                     0);
    ck_assert_uint_eq(n, 3);
    for (int i = 0; i < 3; i++) { /* roots ascend: 0x10.., 0x20.., 0x30.. */
        ck_assert_int_eq(memcmp(got_roots[i], roots[2 - i], BLOB_ROOT_SIZE), 0);
        ck_assert_int_eq(memcmp(got_xids[i], xids[2 - i], BLOB_XID_SIZE), 0);
    }
    ck_assert_int_eq(blob_transfer_list(s, got_roots, got_xids, 2, &n, errmsg),
                     0);
    ck_assert_uint_eq(n, 2); /* capped */
    ck_assert_int_eq(blob_transfer_del(s, roots[1], errmsg), 0);
    ck_assert_int_eq(blob_transfer_del(s, roots[1], errmsg), 0); /* absent */
    ck_assert_int_eq(blob_transfer_list(s, got_roots, got_xids, 4, &n, errmsg),
                     0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(memcmp(got_roots[0], roots[2], BLOB_ROOT_SIZE), 0);
    ck_assert_int_eq(memcmp(got_roots[1], roots[0], BLOB_ROOT_SIZE), 0);
    blob_store_close(s);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}

static Suite *blob_suite(void)
{
    Suite *suite = suite_create("blob");
    TCase *tc;

    tc = tcase("pure");
    tcase_add_test(tc, test_blob_chunk_count_edges);
    tcase_add_test(tc, test_blob_nonce_depends_on_id_version_index);
    tcase_add_test(tc, test_blob_seal_open_round_trip_and_tamper);
    suite_add_tcase(suite, tc);
    tc = tcase("import_export");
    tcase_add_test(tc, test_blob_import_root_matches_and_export_identical);
    tcase_add_test(tc, test_blob_import_twice_gives_fresh_key_and_root);
    tcase_add_test(tc, test_blob_empty_payload_is_one_empty_chunk);
    suite_add_tcase(suite, tc);
    tc = tcase("consumer");
    tcase_add_test(tc, test_blob_consumer_random_order_with_resume);
    suite_add_tcase(suite, tc);
    tc = tcase("refusals");
    tcase_add_test(tc, test_blob_refusals);
    tcase_add_test(tc, test_blob_store_of_another_version_is_refused);
    tcase_add_test(tc, test_blob_import_over_map_limit_leaves_nothing_complete);
    suite_add_tcase(suite, tc);
    tc = tcase("node_records");
    tcase_add_test(tc, test_blob_import_keeps_its_key_and_consumer_has_none);
    tcase_add_test(tc, test_blob_put_chunks_gives_each_chunk_its_outcome);
    tcase_add_test(tc, test_blob_delivery_setting_persists_and_refuses_bad_ids);
    tcase_add_test(tc, test_blob_transfers_listed_in_root_order_across_reopen);
    suite_add_tcase(suite, tc);
    return suite;
}

int main(void) { return testutil_run(blob_suite()); }
