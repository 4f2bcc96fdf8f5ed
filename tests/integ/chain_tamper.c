/* chain_tamper: change one block or commit of a chain exported by `tdei
 * audit chain --export DIR`, for tests/integ/test_observer.sh to show
 * that `audit chain --blocks-from DIR` finds each change at its height.
 *
 *   chain_tamper flip DIR H OFFSET       flip the low bit of byte OFFSET
 *                                        of block H's header (the bytes
 *                                        of Block.header); -N counts
 *                                        from its end (-1: the last)
 *   chain_tamper drop DIR H KEEP         keep only the first KEEP
 *                                        signatures of H.commit
 *   chain_tamper app-hash DIR H CHAIN KEYFILE[,KEYFILE...]
 *                                        flip a bit of block H's app_hash
 *                                        and sign H.commit again, for
 *                                        the new block id, with the node
 *                                        keys given (in key order): a
 *                                        commit that verifies over a
 *                                        header whose app hash is wrong
 *   chain_tamper resign DIR H CHAIN KEYFILE[,KEYFILE...]
 *                                        sign H.commit again for the same
 *                                        block with the node keys given
 *
 * Exit 0 when the file was rewritten, 1 on a local error (a file, a key,
 * bytes that do not decode), 2 on bad usage. */
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keyfile.h"
#include "core/keys.h"
#include "core/limits.h"
#include "tdei.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGNERS_MAX 16
#define FILE_MAX (16u * 1024u * 1024u)

static int usage(void)
{
    fprintf(stderr,
            "usage: chain_tamper flip DIR H OFFSET\n"
            "       chain_tamper drop DIR H KEEP\n"
            "       chain_tamper app-hash DIR H CHAIN KEYFILE[,KEYFILE...]\n"
            "       chain_tamper resign DIR H CHAIN KEYFILE[,KEYFILE...]\n");
    return 2;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "chain_tamper: cannot open %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    buf = malloc(FILE_MAX);
    n = buf != NULL ? fread(buf, 1, FILE_MAX, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n == FILE_MAX) {
        fprintf(stderr, "chain_tamper: %s is empty or too large\n", path);
        free(buf);
        return 1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "chain_tamper: cannot write %s\n", path);
        if (f != NULL) {
            fclose(f);
        }
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

static int parse_u64(const char *text, uint64_t *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtoull(text, &end, 10);
    return text[0] >= '0' && text[0] <= '9' && errno == 0 && *end == '\0' ? 0
                                                                          : -1;
}

/* Rewrite DIR/H.block with @header_bytes as its header. */
static int block_write(const char *path, Tdei__Block *block,
                       uint8_t *header_bytes, size_t header_len)
{
    uint8_t *out;
    size_t len;
    int rc;

    block->header.data = header_bytes;
    block->header.len = header_len;
    len = tdei__block__get_packed_size(block);
    out = malloc(len > 0 ? len : 1);
    if (out == NULL) {
        return 1;
    }
    (void)tdei__block__pack(block, out);
    rc = write_file(path, out, len);
    free(out);
    return rc;
}

static int tamper_flip(const char *dir, uint64_t height, uint64_t offset,
                       int from_end)
{
    char path[4096];
    uint8_t *bytes;
    size_t len;
    Tdei__Block *block;
    uint8_t *header;
    int rc;

    (void)snprintf(path, sizeof(path), "%s/%llu.block", dir,
                   (unsigned long long)height);
    if (read_file(path, &bytes, &len) != 0) {
        return 1;
    }
    block = tdei__block__unpack(NULL, len, bytes);
    free(bytes);
    if (block != NULL && from_end) {
        offset = offset <= block->header.len ? block->header.len - offset
                                             : block->header.len;
    }
    if (block == NULL || offset >= block->header.len) {
        fprintf(stderr,
                "chain_tamper: %s does not decode, or its header "
                "is not longer than %llu bytes\n",
                path, (unsigned long long)offset);
        tdei__block__free_unpacked(block, NULL);
        return 1;
    }
    header = malloc(block->header.len);
    if (header == NULL) {
        tdei__block__free_unpacked(block, NULL);
        return 1;
    }
    memcpy(header, block->header.data, block->header.len);
    header[offset] ^= 0x01u;
    {
        ProtobufCBinaryData keep = block->header;
        rc = block_write(path, block, header, keep.len);
        block->header = keep; /* freed with the message */
    }
    free(header);
    tdei__block__free_unpacked(block, NULL);
    return rc;
}

static int tamper_drop(const char *dir, uint64_t height, uint64_t keep)
{
    char path[4096];
    uint8_t *bytes;
    size_t len;
    Tdei__Commit *commit;
    uint8_t *out;
    size_t n_was;
    int rc;

    (void)snprintf(path, sizeof(path), "%s/%llu.commit", dir,
                   (unsigned long long)height);
    if (read_file(path, &bytes, &len) != 0) {
        return 1;
    }
    commit = tdei__commit__unpack(NULL, len, bytes);
    free(bytes);
    if (commit == NULL || keep == 0 || keep >= commit->n_signatures) {
        fprintf(stderr,
                "chain_tamper: %s does not decode, or KEEP is not "
                "1 to its signatures - 1\n",
                path);
        tdei__commit__free_unpacked(commit, NULL);
        return 1;
    }
    n_was = commit->n_signatures;
    commit->n_signatures = (size_t)keep;
    len = tdei__commit__get_packed_size(commit);
    out = malloc(len);
    rc = 1;
    if (out != NULL) {
        (void)tdei__commit__pack(commit, out);
        rc = write_file(path, out, len);
        free(out);
    }
    commit->n_signatures = n_was;
    tdei__commit__free_unpacked(commit, NULL);
    return rc;
}

/* Load the comma-separated key files of @list. */
static int load_keys(const char *list, struct tdei_keypair *keys, size_t *n)
{
    char path[4096];
    char errmsg[TDEI_ERRMSG_SIZE];
    struct tdei_keyfile_key kf;

    *n = 0;
    while (*list != '\0') {
        size_t len = strcspn(list, ",");
        if (len == 0 || len >= sizeof(path) || *n == SIGNERS_MAX) {
            return 1;
        }
        memcpy(path, list, len);
        path[len] = '\0';
        if (tdei_keyfile_load(path, &kf, NULL, errmsg) != 0 ||
            tdei_keypair_from_secret(&keys[*n], kf.secret) != 0) {
            fprintf(stderr, "chain_tamper: %s: %s\n", path, errmsg);
            tdei_keyfile_key_wipe(&kf);
            return 1;
        }
        tdei_keyfile_key_wipe(&kf);
        (*n)++;
        list += len;
        if (*list == ',') {
            list++;
        }
    }
    return *n > 0 ? 0 : 1;
}

/* Write DIR/H.commit: precommits of @keys for (@height, @round, @id). */
static int commit_sign(const char *path, const char *chain, uint64_t height,
                       uint32_t round, const uint8_t id[CODEC_HASH_SIZE],
                       struct tdei_keypair *keys, size_t n)
{
    Tdei__Commit out = TDEI__COMMIT__INIT;
    Tdei__CommitSig sigs[SIGNERS_MAX];
    Tdei__CommitSig *ptrs[SIGNERS_MAX];
    uint8_t sig[SIGNERS_MAX][TDEI_SIG_SIZE];
    uint8_t bytes[CODEC_VOTE_SIGN_BYTES_MAX];
    uint8_t *enc;
    size_t enc_len;
    size_t len;
    int rc;

    /* Key order, as a commit holds its signatures. */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i;
             j > 0 && memcmp(keys[j - 1].pubkey, keys[j].pubkey, 32) > 0; j--) {
            struct tdei_keypair t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    }
    out.height = height;
    out.round = round;
    out.block_id = (ProtobufCBinaryData){CODEC_HASH_SIZE, (uint8_t *)id};
    len = codec_commit_sign_bytes(bytes, chain, &out);
    for (size_t i = 0; i < n; i++) {
        if (tdei_sign_tagged(sig[i], &keys[i], TDEI_TAG_VOTE, bytes, len) !=
            0) {
            return 1;
        }
        tdei__commit_sig__init(&sigs[i]);
        sigs[i].validator =
            (ProtobufCBinaryData){32, (uint8_t *)keys[i].pubkey};
        sigs[i].sig = (ProtobufCBinaryData){TDEI_SIG_SIZE, sig[i]};
        ptrs[i] = &sigs[i];
    }
    out.n_signatures = n;
    out.signatures = ptrs;
    if (codec_commit_encode(&out, &enc, &enc_len) != 0) {
        return 1;
    }
    rc = write_file(path, enc, enc_len);
    tdei_free(enc);
    return rc;
}

/* Sign the commit of block @height again, for the same block. */
static int tamper_resign(const char *dir, uint64_t height, const char *chain,
                         const char *key_list)
{
    struct tdei_keypair keys[SIGNERS_MAX];
    char cpath[4096];
    uint8_t id[CODEC_HASH_SIZE];
    uint8_t *bytes;
    size_t len;
    size_t n_keys;
    Tdei__Commit *commit;
    int rc;

    if (load_keys(key_list, keys, &n_keys) != 0) {
        fprintf(stderr, "chain_tamper: cannot load the keys %s\n", key_list);
        return 1;
    }
    (void)snprintf(cpath, sizeof(cpath), "%s/%llu.commit", dir,
                   (unsigned long long)height);
    if (read_file(cpath, &bytes, &len) != 0) {
        return 1;
    }
    commit = tdei__commit__unpack(NULL, len, bytes);
    free(bytes);
    if (commit == NULL || commit->block_id.len != CODEC_HASH_SIZE) {
        fprintf(stderr, "chain_tamper: %s does not decode\n", cpath);
        tdei__commit__free_unpacked(commit, NULL);
        return 1;
    }
    memcpy(id, commit->block_id.data, CODEC_HASH_SIZE);
    rc = commit_sign(cpath, chain, height, commit->round, id, keys, n_keys);
    tdei__commit__free_unpacked(commit, NULL);
    for (size_t i = 0; i < n_keys; i++) {
        tdei_keypair_wipe(&keys[i]);
    }
    return rc;
}

static int tamper_app_hash(const char *dir, uint64_t height, const char *chain,
                           const char *key_list)
{
    struct tdei_keypair keys[SIGNERS_MAX];
    char path[4096];
    char cpath[4096];
    uint8_t id[CODEC_HASH_SIZE];
    uint8_t *bytes;
    size_t len;
    size_t n_keys;
    Tdei__Block *block;
    Tdei__Header *header;
    Tdei__Commit *commit;
    uint8_t *hbytes;
    size_t hlen;
    uint32_t round;
    int rc;

    if (load_keys(key_list, keys, &n_keys) != 0) {
        fprintf(stderr, "chain_tamper: cannot load the keys %s\n", key_list);
        return 1;
    }
    (void)snprintf(cpath, sizeof(cpath), "%s/%llu.commit", dir,
                   (unsigned long long)height);
    if (read_file(cpath, &bytes, &len) != 0) {
        return 1;
    }
    commit = tdei__commit__unpack(NULL, len, bytes);
    free(bytes);
    if (commit == NULL) {
        fprintf(stderr, "chain_tamper: %s does not decode\n", cpath);
        return 1;
    }
    round = commit->round;
    tdei__commit__free_unpacked(commit, NULL);
    (void)snprintf(path, sizeof(path), "%s/%llu.block", dir,
                   (unsigned long long)height);
    if (read_file(path, &bytes, &len) != 0) {
        return 1;
    }
    block = tdei__block__unpack(NULL, len, bytes);
    free(bytes);
    header = block != NULL ? tdei__header__unpack(NULL, block->header.len,
                                                  block->header.data)
                           : NULL;
    if (header == NULL || header->app_hash.len != CODEC_HASH_SIZE) {
        fprintf(stderr, "chain_tamper: %s does not decode\n", path);
        tdei__header__free_unpacked(header, NULL);
        tdei__block__free_unpacked(block, NULL);
        return 1;
    }
    header->app_hash.data[0] ^= 0x01u;
    hlen = tdei__header__get_packed_size(header);
    hbytes = malloc(hlen);
    rc = 1;
    if (hbytes != NULL) {
        ProtobufCBinaryData keep = block->header;
        (void)tdei__header__pack(header, hbytes);
        codec_block_id(id, hbytes, hlen);
        rc = block_write(path, block, hbytes, hlen);
        block->header = keep;
        free(hbytes);
    }
    if (rc == 0) {
        rc = commit_sign(cpath, chain, height, round, id, keys, n_keys);
    }
    for (size_t i = 0; i < n_keys; i++) {
        tdei_keypair_wipe(&keys[i]);
    }
    tdei__header__free_unpacked(header, NULL);
    tdei__block__free_unpacked(block, NULL);
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t height;
    uint64_t n;

    if (tdei_crypto_init() != 0) {
        return 1;
    }
    if (argc < 5 || parse_u64(argv[3], &height) != 0 || height == 0) {
        return usage();
    }
    if (strcmp(argv[1], "flip") == 0 && argc == 5 &&
        parse_u64(argv[4] + (argv[4][0] == '-'), &n) == 0) {
        return tamper_flip(argv[2], height, n, argv[4][0] == '-');
    }
    if (strcmp(argv[1], "drop") == 0 && argc == 5 &&
        parse_u64(argv[4], &n) == 0) {
        return tamper_drop(argv[2], height, n);
    }
    if (strcmp(argv[1], "resign") == 0 && argc == 6) {
        return tamper_resign(argv[2], height, argv[4], argv[5]);
    }
    if (strcmp(argv[1], "app-hash") == 0 && argc == 6) {
        return tamper_app_hash(argv[2], height, argv[4], argv[5]);
    }
    return usage();
}
