/* A libFuzzer-free driver for the fuzz targets, run by `make check`
 * (smoke_codec, smoke_api, smoke_p2p): seeded random inputs and mutations
 * of valid ledger and API messages, fed to the target's
 * LLVMFuzzerTestOneInput. Built with -DSMOKE_TARGET_SEEDS, it mutates the
 * target's own seeds instead (smoke_target_seed, smoke_p2p).
 * It finds crashes and sanitizer reports on the paths that valid-looking
 * bytes reach; real fuzzing (`make fuzz`) goes much further.
 *
 *   smoke_X [--runs N] [--seed S] [--write-seeds DIR] [FILE...]
 * Files are fed as they are; then N generated inputs. --write-seeds
 * writes the valid seeds to DIR/seed-N, a start for a libFuzzer corpus,
 * and feeds nothing. Prints how many
 * inputs it fed and exits 0; a failure aborts with the target's message
 * (the seed to replay it is printed first). The suite counts the program
 * as one test. */
#include "api.pb-c.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMOKE_RUNS_DEFAULT 20000u
#define SMOKE_INPUT_MAX 8192u
#define SMOKE_SEEDS 7u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef SMOKE_TARGET_SEEDS
#define SMOKE_TARGET_MAX 32u
/* The target's seed @i in *data (tdei_malloc) and *len, valid for it
 * throughout. Returns 0, or 1 when there is no seed @i. */
int smoke_target_seed(size_t i, uint8_t **data, size_t *len);
#else
#define SMOKE_TARGET_MAX 0u
#endif
#define SMOKE_SEEDS_MAX (SMOKE_SEEDS + SMOKE_TARGET_MAX)

static uint64_t smoke_state;

/* xorshift64*: a fixed generator, so a seed replays a run. */
static uint64_t smoke_next(void)
{
    smoke_state ^= smoke_state >> 12;
    smoke_state ^= smoke_state << 25;
    smoke_state ^= smoke_state >> 27;
    return smoke_state * 0x2545F4914F6CDD1Dull;
}

static size_t smoke_below(size_t n)
{
    return n == 0 ? 0 : (size_t)(smoke_next() % n);
}

struct smoke_seed
{
    uint8_t *data;
    size_t len;
};

/* Mutations must start from messages the decoders accept: check them. */
static void smoke_check_seeds(const struct smoke_seed seeds[SMOKE_SEEDS])
{
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    char errmsg[TDEI_ERRMSG_SIZE];
    Tdei__Tx *tx = NULL;
    Tdei__Vote *vote = NULL;
    Tdei__Commit *commit = NULL;
    Tdei__Block *block = NULL;
    ProtobufCMessage *req = NULL;
    Tdei__TxBody *body = NULL;
    Tdei__Dataset *ds = NULL;

    if (codec_tx_decode(&tx, seeds[0].data, seeds[0].len, seeds[0].len,
                        errmsg) != 0 ||
        codec_vote_decode(&vote, seeds[1].data, seeds[1].len, errmsg) != 0 ||
        codec_commit_decode(&commit, seeds[2].data, seeds[2].len, &limits,
                            errmsg) != 0 ||
        codec_block_decode(&block, NULL, seeds[3].data, seeds[3].len, &limits,
                           errmsg) != 0 ||
        codec_message_unpack(&req, &tdei__api__request__descriptor,
                             seeds[4].data + 5, seeds[4].len - 5, "request",
                             errmsg) != 0 ||
        codec_txbody_decode(&body, seeds[5].data, seeds[5].len, errmsg) != 0 ||
        codec_dataset_decode(&ds, seeds[6].data, seeds[6].len, errmsg) != 0) {
        fprintf(stderr, "smoke: a seed does not decode: %s\n", errmsg);
        abort();
    }
    codec_tx_free(tx);
    codec_vote_free(vote);
    codec_commit_free(commit);
    codec_block_free(block);
    codec_message_free(req);
    codec_txbody_free(body);
    codec_dataset_free(ds);
}

/* Seeds 5 and 6: a catalog_publish TxBody and the Dataset record it makes,
 * the largest messages of the exchange rules. */
static void smoke_rule_seeds(struct smoke_seed seeds[SMOKE_SEEDS],
                             const uint8_t signer[32])
{
    static char *tags[] = {(char *)(uintptr_t) "press",
                           (char *)(uintptr_t) "vibration"};
    static char *parents[] = {(char *)(uintptr_t) "press-raw"};
    static const uint8_t root[32] = {7};
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogPublish pub = TDEI__CATALOG_PUBLISH__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    Tdei__License license = TDEI__LICENSE__INIT;
    Tdei__Dataset ds = TDEI__DATASET__INIT;

    price.model = CODEC_PRICE_ONE_TIME;
    price.amount = 120;
    license.may_derive = 1;
    pub.id = (char *)(uintptr_t) "press-line-4";
    pub.kind = CODEC_KIND_DATASET;
    pub.title = (char *)(uintptr_t) "Press line 4 vibration";
    pub.description = (char *)(uintptr_t) "1 kHz accelerometer, 2026";
    pub.n_tags = 2;
    pub.tags = tags;
    pub.domain = CODEC_DOMAIN_PRODUCTION;
    pub.level = 2;
    pub.data_class = CODEC_CLASS_IMPORTANT;
    pub.schema = (char *)(uintptr_t) "csv: t_ms,ax,ay,az";
    pub.price = &price;
    pub.license = &license;
    pub.n_parents = 1;
    pub.parents = parents;
    pub.content_root.data = (uint8_t *)(uintptr_t)root;
    pub.content_root.len = 32;
    pub.size = 1048576;
    body.version = CODEC_VERSION;
    body.chain_id = (char *)(uintptr_t) "tdei-smoke";
    body.signer.data = (uint8_t *)(uintptr_t)signer;
    body.signer.len = 32;
    body.nonce = 2;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_PUBLISH;
    body.catalog_publish = &pub;
    ds.id = pub.id;
    ds.kind = pub.kind;
    ds.title = pub.title;
    ds.description = pub.description;
    ds.n_tags = pub.n_tags;
    ds.tags = pub.tags;
    ds.domain = pub.domain;
    ds.level = pub.level;
    ds.data_class = pub.data_class;
    ds.schema = pub.schema;
    ds.price = &price;
    ds.license = &license;
    ds.n_parents = pub.n_parents;
    ds.parents = pub.parents;
    ds.content_root = pub.content_root;
    ds.size = pub.size;
    ds.owner = (char *)(uintptr_t) "acme-steel";
    ds.publisher = ds.owner;
    ds.version = 1;
    ds.status = CODEC_DATASET_ACTIVE;
    ds.created_height = 4;
    ds.updated_height = 4;
    if (codec_txbody_encode(&body, &seeds[5].data, &seeds[5].len) != 0 ||
        codec_encode(&ds.base, &seeds[6].data, &seeds[6].len) != 0) {
        abort();
    }
}

/* Valid messages to mutate: a Tx, a Vote, a Commit, a Block holding the
 * Tx, an API frame (chunk byte, length, Request) submitting it, and the
 * exchange-rule seeds of smoke_rule_seeds. */
static void smoke_seeds(struct smoke_seed seeds[SMOKE_SEEDS])
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__Transfer transfer = TDEI__TRANSFER__INIT;
    Tdei__Tx tx = TDEI__TX__INIT;
    Tdei__Vote vote = TDEI__VOTE__INIT;
    Tdei__Commit commit = TDEI__COMMIT__INIT;
    Tdei__CommitSig csig = TDEI__COMMIT_SIG__INIT;
    Tdei__CommitSig *csigs[1] = {&csig};
    Tdei__Header header = TDEI__HEADER__INIT;
    Tdei__Block block = TDEI__BLOCK__INIT;
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    struct tdei_keypair kp;
    uint8_t hash[32] = {1};
    uint8_t sig[64];
    uint8_t *body_bytes = NULL;
    uint8_t *header_bytes = NULL;
    uint8_t *req_bytes = NULL;
    size_t body_len = 0;
    size_t header_len = 0;
    size_t req_len = 0;
    ProtobufCBinaryData txs[1];

    if (tdei_keypair_generate(&kp) != 0) {
        abort();
    }
    transfer.to = (char *)(uintptr_t) "beta-mfg";
    transfer.amount = 250;
    transfer.memo = (char *)(uintptr_t) "invoice 7";
    body.version = CODEC_VERSION;
    body.chain_id = (char *)(uintptr_t) "tdei-smoke";
    body.signer.data = kp.pubkey;
    body.signer.len = 32;
    body.nonce = 1;
    body.op_case = TDEI__TX_BODY__OP_TRANSFER;
    body.transfer = &transfer;
    if (codec_txbody_encode(&body, &body_bytes, &body_len) != 0 ||
        tdei_sign_tagged(sig, &kp, TDEI_TAG_TX, body_bytes, body_len) != 0) {
        abort();
    }
    tx.body.data = body_bytes;
    tx.body.len = body_len;
    tx.sig.data = sig;
    tx.sig.len = 64;
    vote.type = 2;
    vote.height = 7;
    vote.round = 1;
    vote.block_id.data = hash;
    vote.block_id.len = 32;
    vote.validator.data = kp.pubkey;
    vote.validator.len = 32;
    vote.sig.data = sig;
    vote.sig.len = 64;
    csig.validator.data = kp.pubkey;
    csig.validator.len = 32;
    csig.sig.data = sig;
    csig.sig.len = 64;
    commit.height = 1;
    commit.block_id.data = hash;
    commit.block_id.len = 32;
    commit.n_signatures = 1;
    commit.signatures = csigs;
    header.version = 1;
    header.chain_id = (char *)(uintptr_t) "tdei-smoke";
    header.height = 2;
    header.time_ms = 1764000000000ull;
    header.last_block_id = commit.block_id;
    header.txs_root = commit.block_id;
    header.last_results_root = commit.block_id;
    header.app_hash = commit.block_id;
    header.validators_hash = commit.block_id;
    header.next_validators_hash = commit.block_id;
    header.proposer = vote.validator;
    if (codec_tx_encode(&tx, &seeds[0].data, &seeds[0].len) != 0 ||
        codec_vote_encode(&vote, &seeds[1].data, &seeds[1].len) != 0 ||
        codec_commit_encode(&commit, &seeds[2].data, &seeds[2].len) != 0 ||
        codec_header_encode(&header, &header_bytes, &header_len) != 0) {
        abort();
    }
    txs[0].data = seeds[0].data;
    txs[0].len = seeds[0].len;
    block.header.data = header_bytes;
    block.header.len = header_len;
    block.n_txs = 1;
    block.txs = txs;
    block.last_commit = &commit;
    submit.tx = txs[0];
    submit.wait = 1;
    req.id = 9;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    if (codec_block_encode(&block, &seeds[3].data, &seeds[3].len) != 0 ||
        codec_encode(&req.base, &req_bytes, &req_len) != 0) {
        abort();
    }
    seeds[4].len = 1 + 4 + req_len;
    seeds[4].data = tdei_malloc(seeds[4].len);
    if (seeds[4].data == NULL) {
        abort();
    }
    seeds[4].data[0] = 16; /* chunks of 17 bytes */
    seeds[4].data[1] = (uint8_t)(req_len >> 24);
    seeds[4].data[2] = (uint8_t)(req_len >> 16);
    seeds[4].data[3] = (uint8_t)(req_len >> 8);
    seeds[4].data[4] = (uint8_t)req_len;
    memcpy(seeds[4].data + 5, req_bytes, req_len);
    smoke_rule_seeds(seeds, kp.pubkey);
    tdei_free(body_bytes);
    tdei_free(header_bytes);
    tdei_free(req_bytes);
    tdei_keypair_wipe(&kp);
    smoke_check_seeds(seeds);
}

/* The target's own seeds after the common ones; returns how many seeds
 * there are in all. */
static size_t smoke_target_seeds(struct smoke_seed seeds[SMOKE_SEEDS_MAX])
{
    size_t n = SMOKE_SEEDS;

#ifdef SMOKE_TARGET_SEEDS
    while (n < SMOKE_SEEDS_MAX &&
           smoke_target_seed(n - SMOKE_SEEDS, &seeds[n].data,
                             &seeds[n].len) == 0) {
        if (seeds[n].len > SMOKE_INPUT_MAX) {
            fprintf(stderr, "smoke: target seed %zu is too long\n",
                    n - SMOKE_SEEDS);
            abort();
        }
        n++;
    }
#else
    (void)seeds;
#endif
    return n;
}

/* One generated input into @buf: random bytes, or a seed of
 * @seeds[first..n) with 1-8 mutations (flip a bit, set a byte, insert,
 * delete, truncate, duplicate the message). Returns its length. */
static size_t smoke_input(uint8_t *buf, const struct smoke_seed *seeds,
                          size_t first, size_t n)
{
    size_t len;
    size_t edits;

    if (smoke_below(8) == 0) {
        len = smoke_below(512);
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)smoke_next();
        }
        return len;
    }
    const struct smoke_seed *seed = &seeds[first + smoke_below(n - first)];
    len = seed->len;
    memcpy(buf, seed->data, len);
    edits = 1 + smoke_below(8);
    for (size_t e = 0; e < edits; e++) {
        size_t at = smoke_below(len + 1);
        switch (smoke_below(6)) {
        case 0:
            if (len > 0) {
                buf[smoke_below(len)] ^= (uint8_t)(1u << smoke_below(8));
            }
            break;
        case 1:
            if (len > 0) {
                buf[smoke_below(len)] = (uint8_t)smoke_next();
            }
            break;
        case 2:
            if (len < SMOKE_INPUT_MAX) {
                memmove(buf + at + 1, buf + at, len - at);
                buf[at] = (uint8_t)smoke_next();
                len++;
            }
            break;
        case 3:
            if (at < len) {
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
            }
            break;
        case 4:
            len = at;
            break;
        default:
            if (2 * len <= SMOKE_INPUT_MAX) {
                memcpy(buf + len, buf, len);
                len *= 2;
            }
            break;
        }
    }
    return len;
}

static int smoke_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    uint8_t *buf = malloc(1u << 20);
    size_t len;

    if (file == NULL || buf == NULL) {
        fprintf(stderr, "smoke: cannot read %s\n", path);
        free(buf);
        if (file != NULL) {
            fclose(file);
        }
        return 1;
    }
    len = fread(buf, 1, 1u << 20, file);
    fclose(file);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

/* Write each seed to @dir/seed-N. */
static int smoke_write_seeds(const char *dir, const struct smoke_seed *seeds,
                             size_t n)
{
    char path[4096];

    for (size_t i = 0; i < n; i++) {
        FILE *file;
        (void)snprintf(path, sizeof(path), "%s/seed-%zu", dir, i);
        file = fopen(path, "wb");
        if (file == NULL ||
            fwrite(seeds[i].data, 1, seeds[i].len, file) != seeds[i].len) {
            fprintf(stderr, "smoke: cannot write %s\n", path);
            if (file != NULL) {
                fclose(file);
            }
            return 1;
        }
        if (fclose(file) != 0) {
            fprintf(stderr, "smoke: cannot write %s\n", path);
            return 1;
        }
    }
    printf("smoke: %zu seeds written to %s\n", n, dir);
    return 0;
}

int main(int argc, char **argv)
{
    struct smoke_seed seeds[SMOKE_SEEDS_MAX];
    static uint8_t buf[SMOKE_INPUT_MAX];
    size_t n_seeds;
    size_t first;
    unsigned long runs = SMOKE_RUNS_DEFAULT;
    unsigned long long seed = 1;
    unsigned long files = 0;
    const char *seed_dir = NULL;

    if (tdei_crypto_init() != 0) {
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = strtoul(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) {
            seed_dir = argv[++i];
        } else if (smoke_file(argv[i]) != 0) {
            return 1;
        } else {
            files++;
        }
    }
    smoke_state = seed == 0 ? 1 : seed;
    fprintf(stderr, "smoke: seed %llu, %lu runs (--seed %llu replays)\n", seed,
            runs, seed);
    smoke_seeds(seeds);
    n_seeds = smoke_target_seeds(seeds);
    if (seed_dir != NULL) {
        int rc = smoke_write_seeds(seed_dir, seeds, n_seeds);
        for (size_t i = 0; i < n_seeds; i++) {
            tdei_free(seeds[i].data);
        }
        return rc;
    }
    /* A target with seeds of its own is fed mutations of those only. */
    first = n_seeds > SMOKE_SEEDS ? SMOKE_SEEDS : 0;
    for (size_t i = 0; i < n_seeds; i++) {
        LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
    }
    for (unsigned long r = 0; r < runs; r++) {
        size_t len = smoke_input(buf, seeds, first, n_seeds);
        LLVMFuzzerTestOneInput(buf, len);
    }
    for (size_t i = 0; i < n_seeds; i++) {
        tdei_free(seeds[i].data);
    }
    printf("smoke: %lu inputs fed, no failure\n", runs + n_seeds + files);
    return 0;
}
