/* tdei audit chain: re-verify a node's chain from genesis.json, trusting
 * nothing the node says (DESIGN.md sections 4, 5 and 10).
 *
 * The blocks and commits of heights 1..to come from the node's API
 * (GetBlock, up to AUDIT_WINDOW requests in flight) or from a directory
 * of exported blocks (--blocks-from). Each block is checked and then
 * executed in a scratch store made from genesis.json, with libtdei's own
 * execution (exec.h), as a node executes it:
 *
 *   decode       the block decodes under the params in force;
 *   chain_id     the header's chain id is genesis.json's;
 *   height       the header's height is the one asked for;
 *   block_id     the id the node gives is SHA-256 of the header;
 *   time_ms      later than the previous block's;
 *   last_block_id, txs_root, last_results_root, app_hash,
 *   validators_hash, next_validators_hash
 *                equal to what the replay computes (exec_next_header:
 *                the previous block's id, the root over the block's txs,
 *                the previous block's results and app hash, the sets of
 *                this height and the next, following every change of
 *                the set the replayed blocks decided);
 *   last_commit  the commit of height - 1 the block carries: precommits
 *                of more than 2/3 of the set of height - 1, each
 *                signature valid (votes.h: BIP-340, tag tdei/vote, over
 *                the codec's vote bytes);
 *   execution    exec_block: proposer, every tx's signature, nonce and
 *                signer, and the contracts;
 *   commit       the commit that decided the block (GetBlock's commit):
 *                for this height and this block id, precommits of more
 *                than 2/3 of the set of this height, each signature
 *                valid.
 *
 * The first fault ends the audit (exit 3) with its height, the check,
 * what the replay expected and what the chain holds. Only the block being
 * checked and the requests in flight are in memory: at most AUDIT_WINDOW
 * blocks (each at most params.block_size_max). The scratch store lives in
 * a temporary directory (or --work-dir) and is removed at the end. */
#include "cli.h"

#include "api/client.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/fileio.h"
#include "core/hex.h"
#include "core/limits.h"
#include "exec/exec.h"
#include "genesis.h"
#include "home.h"
#include "store/store.h"
#include "votes.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* GetBlock requests in flight at once. */
#define AUDIT_WINDOW 8u
/* What the checks return for a fault of the chain (a->fault says which);
 * other non-zero values are TDEI_* failures of the audit itself. */
#define AUDIT_FAULT (-1)
/* A path inside --blocks-from, --export or the scratch directory. */
#define AUDIT_PATH_SIZE 4200u
/* The scratch directory's path (--work-dir), shorter than that. */
#define AUDIT_WORK_SIZE 3800u
_Static_assert(AUDIT_WORK_SIZE + 8u + 256u < AUDIT_PATH_SIZE,
               "a file in work/ledger fits a path");
/* Each API call may take this long. */
#define AUDIT_TIMEOUT_MS 60000u

/* The first fault found. */
struct audit_fault
{
    uint64_t height;               /* the block it is in */
    const char *check;             /* which check (see the file comment) */
    char expected[160];            /* what the replay expected ("" if none) */
    char found[160];               /* what the chain holds ("" if none) */
    char detail[TDEI_ERRMSG_SIZE]; /* why, as the checking code says it */
};

/* Where blocks come from. */
struct audit_source
{
    int from_dir;             /* 1: --blocks-from */
    const char *dir;          /* --blocks-from DIR */
    struct api_client client; /* else: the node's API */
    int connected;
    uint64_t to;                              /* the last height wanted */
    uint64_t next_ask;                        /* the next height to request */
    Tdei__Api__Response *ready[AUDIT_WINDOW]; /* answers by height % W */
};

/* One block as the source gives it. */
struct audit_item
{
    uint8_t *block; /* serialized Block (owned) */
    size_t block_len;
    uint8_t *commit; /* serialized Commit (owned); NULL: none */
    size_t commit_len;
    uint8_t claimed_id[CODEC_HASH_SIZE]; /* the id the node gave */
    int has_claimed_id;
};

struct audit
{
    const struct cli_ctx *ctx;
    struct genesis genesis;
    int genesis_loaded;
    char work[AUDIT_WORK_SIZE];       /* scratch directory */
    int work_made;                    /* we created it: remove it */
    char ledger[AUDIT_WORK_SIZE + 8]; /* work/ledger */
    struct store *store;
    struct store_batch *batch;
    struct exec *exec;
    struct codec_limits limits; /* the params in force */
    const char *export_dir;     /* --export DIR or NULL */
    uint64_t from;              /* --from */
    uint64_t to;                /* --to */
    /* What was verified. */
    uint64_t blocks;
    uint64_t txs;
    uint64_t refused_txs;
    uint64_t commits;
    uint64_t signatures;
    uint64_t set_changes;
    uint64_t change_heights[16];       /* the first ones */
    uint8_t vhash[CODEC_HASH_SIZE];    /* validators_hash of the last block */
    uint8_t app_hash[CODEC_HASH_SIZE]; /* app hash after the last block */
    uint8_t last_id[CODEC_HASH_SIZE];  /* id of the last block */
    struct audit_fault fault;
    int faulted;
};

/* ---- faults ------------------------------------------------------------- */

static int audit_fault(struct audit *a, uint64_t height, const char *check,
                       const char *detail_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record the first fault; returns AUDIT_FAULT for the caller to pass up. */
static int audit_fault(struct audit *a, uint64_t height, const char *check,
                       const char *detail_fmt, ...)
{
    va_list ap;

    if (a->faulted) {
        return AUDIT_FAULT;
    }
    a->faulted = 1;
    a->fault.height = height;
    a->fault.check = check;
    va_start(ap, detail_fmt);
    (void)vsnprintf(a->fault.detail, sizeof(a->fault.detail), detail_fmt, ap);
    va_end(ap);
    return AUDIT_FAULT;
}

/* A fault of a hash field: expected vs found, in hex. */
static int audit_fault_hash(struct audit *a, uint64_t height, const char *check,
                            const uint8_t *want, size_t want_len,
                            const ProtobufCBinaryData *got)
{
    (void)audit_fault(a, height, check,
                      "header %s is not what the replay computes", check);
    if (a->fault.height != height || a->fault.check != check) {
        return AUDIT_FAULT; /* an earlier fault is kept */
    }
    if (want_len > 0) {
        (void)tdei_hex_encode(a->fault.expected, sizeof(a->fault.expected),
                              want, want_len);
    } else {
        (void)snprintf(a->fault.expected, sizeof(a->fault.expected), "(empty)");
    }
    if (got->len > 0 && got->len <= 64) {
        (void)tdei_hex_encode(a->fault.found, sizeof(a->fault.found), got->data,
                              got->len);
    } else {
        (void)snprintf(a->fault.found, sizeof(a->fault.found), "%s",
                       got->len == 0 ? "(empty)" : "(too long)");
    }
    return AUDIT_FAULT;
}

/* Compare a header hash field with what the replay computed. */
static int audit_hash_check(struct audit *a, uint64_t height, const char *check,
                            const uint8_t *want, size_t want_len,
                            const ProtobufCBinaryData *got)
{
    if (got->len == want_len &&
        (want_len == 0 || memcmp(got->data, want, want_len) == 0)) {
        return 0;
    }
    return audit_fault_hash(a, height, check, want, want_len, got);
}

/* ---- the source: the node's API or a directory --------------------------- */

static void audit_item_free(struct audit_item *it)
{
    tdei_free(it->block);
    tdei_free(it->commit);
    memset(it, 0, sizeof(*it));
}

/* Read the whole file @path into *@out (tdei_malloc'd) if it is at most
 * @max bytes. Returns 0, TDEI_NOTFOUND, TDEI_TOOBIG, TDEI_IOERR or
 * TDEI_NOMEM (errmsg names the file). */
static int audit_file_read(const char *path, size_t max, uint8_t **out,
                           size_t *len, char *errmsg)
{
    struct stat st;
    uint8_t *buf;
    size_t got = 0;
    int fd;

    *out = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                           errno == ENOENT ? TDEI_NOTFOUND : TDEI_IOERR,
                           "cannot open %s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        (void)close(fd);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "%s is not a regular file", path);
    }
    if ((uint64_t)st.st_size > max || st.st_size == 0) {
        (void)close(fd);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_TOOBIG,
                           "%s holds %lld bytes; a block or commit file "
                           "holds 1 to %zu",
                           path, (long long)st.st_size, max);
    }
    buf = tdei_malloc((size_t)st.st_size);
    if (buf == NULL) {
        (void)close(fd);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for %s", path);
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            tdei_free(buf);
            (void)close(fd);
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                               "cannot read %s", path);
        }
        got += (size_t)n;
    }
    (void)close(fd);
    *out = buf;
    *len = got;
    return 0;
}

/* Write @len bytes to @path (created 0644, replaced). Returns 0 or
 * TDEI_IOERR. */
static int audit_file_write(const char *path, const uint8_t *data, size_t len,
                            char *errmsg)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err;

    if (fd < 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot create %s: %s", path, strerror(errno));
    }
    err = tdei_write_all(fd, data, len);
    if (close(fd) != 0 && err == 0) {
        err = errno;
    }
    if (err != 0) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot write %s: %s", path, strerror(err));
    }
    return 0;
}

static void audit_block_path(char *out, const char *dir, uint64_t height,
                             const char *ext)
{
    (void)snprintf(out, AUDIT_PATH_SIZE, "%s/%llu.%s", dir,
                   (unsigned long long)height, ext);
}

/* The highest height H such that DIR holds H.block and every lower one;
 * 0 when DIR has no 1.block. */
static uint64_t audit_dir_top(const char *dir)
{
    char path[AUDIT_PATH_SIZE];
    struct stat st;
    uint64_t h = 0;

    for (;;) {
        audit_block_path(path, dir, h + 1, "block");
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            return h;
        }
        h++;
    }
}

/* Ask the node for the blocks up to @height + AUDIT_WINDOW - 1. */
static int audit_api_ask(struct audit_source *src, uint64_t height,
                         char *errmsg)
{
    while (src->next_ask <= src->to && src->next_ask < height + AUDIT_WINDOW) {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__GetBlock get = TDEI__API__GET_BLOCK__INIT;
        int rc;
        get.height = src->next_ask;
        req.id = src->next_ask; /* heights start at 1: never 0 */
        req.req_case = TDEI__API__REQUEST__REQ_GET_BLOCK;
        req.get_block = &get;
        rc = api_client_send(&src->client, &req, errmsg);
        if (rc != 0) {
            return rc;
        }
        src->next_ask++;
    }
    return 0;
}

/* The answer for block @height from the node. Returns 0 with @it filled,
 * or a transport or node error (errmsg says which). */
static int audit_api_get(struct audit_source *src, uint64_t height,
                         struct audit_item *it, char *errmsg)
{
    Tdei__Api__Response *resp;
    const Tdei__Api__BlockInfo *info;
    size_t slot = (size_t)(height % AUDIT_WINDOW);
    int rc;

    rc = audit_api_ask(src, height, errmsg);
    while (rc == 0 && src->ready[slot] == NULL) {
        rc = api_client_recv(&src->client, &resp, errmsg);
        if (rc != 0) {
            break;
        }
        if (resp->id < height || resp->id >= src->next_ask) {
            uint64_t id = resp->id;
            uint32_t code = resp->code;
            api_client_response_free(resp);
            rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                             "the node answered request %llu (code %s), "
                             "which is not in flight",
                             (unsigned long long)id, tdei_errname((int)code));
            break;
        }
        src->ready[resp->id % AUDIT_WINDOW] = resp;
    }
    if (rc != 0) {
        return rc;
    }
    resp = src->ready[slot];
    src->ready[slot] = NULL;
    if (resp->code != 0) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, (int)resp->code,
                         "the node did not give block %llu: %s",
                         (unsigned long long)height, resp->error);
        api_client_response_free(resp);
        return rc;
    }
    if (resp->resp_case != TDEI__API__RESPONSE__RESP_BLOCK) {
        api_client_response_free(resp);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_MALFORMED,
                           "the node answered GetBlock %llu with another "
                           "kind of result",
                           (unsigned long long)height);
    }
    info = resp->block;
    it->block_len = info->block.len;
    it->block = tdei_malloc(info->block.len > 0 ? info->block.len : 1);
    it->commit_len = info->commit.len;
    it->commit = info->commit.len > 0 ? tdei_malloc(info->commit.len) : NULL;
    if (it->block == NULL || (info->commit.len > 0 && it->commit == NULL)) {
        api_client_response_free(resp);
        audit_item_free(it);
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_NOMEM,
                           "no memory for block %llu",
                           (unsigned long long)height);
    }
    if (info->block.len > 0) {
        memcpy(it->block, info->block.data, info->block.len);
    }
    if (info->commit.len > 0) {
        memcpy(it->commit, info->commit.data, info->commit.len);
    }
    if (info->block_id.len == CODEC_HASH_SIZE) {
        memcpy(it->claimed_id, info->block_id.data, CODEC_HASH_SIZE);
        it->has_claimed_id = 1;
    }
    api_client_response_free(resp);
    return 0;
}

/* Block @height and its commit from --blocks-from. */
static int audit_dir_get(struct audit_source *src, const struct audit *a,
                         uint64_t height, struct audit_item *it, char *errmsg)
{
    char path[AUDIT_PATH_SIZE];
    int rc;

    audit_block_path(path, src->dir, height, "block");
    rc = audit_file_read(path, a->limits.block_size_max, &it->block,
                         &it->block_len, errmsg);
    if (rc != 0) {
        return rc;
    }
    audit_block_path(path, src->dir, height, "commit");
    rc = audit_file_read(path, CODEC_COMMIT_SIZE_MAX(a->limits.validators_max),
                         &it->commit, &it->commit_len, errmsg);
    if (rc == TDEI_NOTFOUND) {
        rc = 0; /* a fault of the chain, not of the audit: checked later */
    }
    if (rc != 0) {
        audit_item_free(it);
    }
    return rc;
}

static int audit_source_get(struct audit_source *src, const struct audit *a,
                            uint64_t height, struct audit_item *it,
                            char *errmsg)
{
    memset(it, 0, sizeof(*it));
    return src->from_dir ? audit_dir_get(src, a, height, it, errmsg)
                         : audit_api_get(src, height, it, errmsg);
}

static void audit_source_close(struct audit_source *src)
{
    for (size_t i = 0; i < AUDIT_WINDOW; i++) {
        api_client_response_free(src->ready[i]);
        src->ready[i] = NULL;
    }
    if (src->connected) {
        api_client_close(&src->client);
        src->connected = 0;
    }
}

/* ---- the scratch store -------------------------------------------------- */

/* Remove the files of the scratch store and the directories this audit
 * made. Only regular files directly inside work/ledger are removed. */
static void audit_work_remove(struct audit *a)
{
    char path[AUDIT_PATH_SIZE];
    struct dirent *de;
    DIR *d;

    if (a->ledger[0] != '\0' && (d = opendir(a->ledger)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            struct stat st;
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            (void)snprintf(path, sizeof(path), "%s/%s", a->ledger, de->d_name);
            if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                (void)unlink(path);
            }
        }
        (void)closedir(d);
        (void)rmdir(a->ledger);
    }
    if (a->work_made) {
        (void)rmdir(a->work);
    }
}

/* Read the params in force after the scratch store's tip into a->limits. */
static int audit_limits(struct audit *a, char *errmsg)
{
    struct store_read *r;
    int rc;

    rc = store_read_begin(a->store, &r, errmsg);
    if (rc != 0) {
        return rc;
    }
    rc = exec_query_limits(r, &a->limits, NULL, errmsg);
    store_read_end(r);
    if (rc != 0) {
        return rc;
    }
    if (a->limits.validators_max < 1 || a->limits.validators_max > (1u << 20) ||
        a->limits.block_size_max > SIZE_MAX / 2) {
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_CORRUPT,
                           "the replayed params are out of range "
                           "(validators_max %zu, block_size_max %zu)",
                           a->limits.validators_max, a->limits.block_size_max);
    }
    return 0;
}

/* Make the scratch store and commit genesis.json's genesis in it. */
static int audit_open(struct audit *a, const char *work_dir, char *errmsg)
{
    struct store_options opts = store_options_default();
    uint8_t app_hash[CODEC_HASH_SIZE];
    int rc;

    if (work_dir != NULL) {
        (void)snprintf(a->work, sizeof(a->work), "%s", work_dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        (void)snprintf(a->work, sizeof(a->work), "%s/tdei-audit-XXXXXX",
                       tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(a->work) == NULL) {
            return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                               "cannot create a scratch directory %s: %s; "
                               "set TMPDIR or give --work-dir DIR",
                               a->work, strerror(errno));
        }
        a->work_made = 1;
    }
    (void)snprintf(a->ledger, sizeof(a->ledger), "%s/ledger", a->work);
    if (mkdir(a->ledger, 0700) != 0) {
        int err = errno;
        a->ledger[0] = '\0'; /* not ours: never removed */
        return tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, TDEI_IOERR,
                           "cannot create the scratch store %s/ledger: %s%s",
                           a->work, strerror(err),
                           err == EEXIST ? " (give --work-dir a directory "
                                           "without a ledger/ in it)"
                                         : "");
    }
    /* Thrown away at the end: its commits need not reach the disk. */
    opts.no_sync = 1;
    rc = store_open(&a->store, a->ledger, &opts, errmsg);
    if (rc == 0) {
        rc = store_batch_create(&a->batch, EXEC_BATCH_SIZE_MAX);
    }
    if (rc == 0) {
        rc = exec_create(&a->exec);
    }
    if (rc != 0) {
        return errmsg[0] != '\0' ? rc
                                 : tdei_errorf(errmsg, TDEI_ERRMSG_SIZE, rc,
                                               "cannot make the scratch store");
    }
    rc = exec_genesis(a->batch, &a->genesis, app_hash, errmsg);
    if (rc == 0) {
        rc = store_commit(a->store, a->batch, errmsg);
    }
    store_batch_reset(a->batch);
    if (rc == 0) {
        memcpy(a->app_hash, app_hash, sizeof(app_hash));
        rc = audit_limits(a, errmsg);
    }
    return rc;
}

static void audit_close(struct audit *a)
{
    exec_destroy(a->exec);
    a->exec = NULL;
    store_batch_destroy(a->batch);
    a->batch = NULL;
    store_close(a->store);
    a->store = NULL;
    audit_work_remove(a);
    if (a->genesis_loaded) {
        genesis_free(&a->genesis);
        a->genesis_loaded = 0;
    }
}

/* ---- the checks of one block -------------------------------------------- */

/* Verify @commit against the set of @height in the replay (@r). Returns
 * 0, AUDIT_FAULT (a fault, recorded as @check at @fault_height) or a
 * failure of this audit (errmsg). */
static int audit_commit_check(struct audit *a, struct store_read *r,
                              uint64_t fault_height, const char *check,
                              const Tdei__Commit *commit, uint64_t height,
                              char *errmsg)
{
    Tdei__ValidatorSet *set = NULL;
    struct cons_vset vset;
    char why[TDEI_ERRMSG_SIZE] = "";
    int rc;

    rc = exec_query_validators_at(r, height, &set, errmsg);
    if (rc == 0) {
        rc = votes_vset_from_proto(&vset, set, errmsg);
    }
    codec_validator_set_free(set);
    if (rc != 0) {
        return rc;
    }
    rc = votes_commit_verify(commit, a->genesis.chain_id, &vset, why);
    if (rc != 0) {
        (void)audit_fault(a, fault_height, check,
                          "the commit of block %llu does not verify against "
                          "the %zu validators of height %llu: %s (%s)",
                          (unsigned long long)height, vset.n,
                          (unsigned long long)height, why, tdei_errname(rc));
        (void)snprintf(a->fault.expected, sizeof(a->fault.expected),
                       "precommits of at least %zu of %zu validators, each "
                       "signature valid",
                       vset.n * 2 / 3 + 1, vset.n);
        (void)snprintf(a->fault.found, sizeof(a->fault.found),
                       "%zu precommits: %s", commit->n_signatures,
                       tdei_errname(rc));
        return AUDIT_FAULT;
    }
    return 0;
}

/* The header checks of block @h before execution: returns 0,
 * AUDIT_FAULT (a fault) or a failure of the audit. */
static int audit_header(struct audit *a, struct store_read *r, uint64_t h,
                        const Tdei__Block *block, const Tdei__Header *header,
                        const uint8_t id[CODEC_HASH_SIZE],
                        const struct audit_item *it, char *errmsg)
{
    struct exec_next_header next;
    struct exec_tip tip;
    int rc;

    if (strcmp(header->chain_id, a->genesis.chain_id) != 0) {
        (void)audit_fault(a, h, "chain_id",
                          "the block is for another chain than genesis.json");
        (void)snprintf(a->fault.expected, sizeof(a->fault.expected), "%s",
                       a->genesis.chain_id);
        (void)snprintf(a->fault.found, sizeof(a->fault.found), "%.64s",
                       header->chain_id);
        return AUDIT_FAULT;
    }
    if (header->height != h) {
        (void)audit_fault(a, h, "height",
                          "the block given for height %llu has another "
                          "height",
                          (unsigned long long)h);
        (void)snprintf(a->fault.expected, sizeof(a->fault.expected), "%llu",
                       (unsigned long long)h);
        (void)snprintf(a->fault.found, sizeof(a->fault.found), "%llu",
                       (unsigned long long)header->height);
        return AUDIT_FAULT;
    }
    if (it->has_claimed_id &&
        memcmp(it->claimed_id, id, CODEC_HASH_SIZE) != 0) {
        (void)audit_fault(a, h, "block_id",
                          "the node's block id is not SHA-256 of the "
                          "header it gave");
        (void)tdei_hex_encode(a->fault.expected, sizeof(a->fault.expected), id,
                              CODEC_HASH_SIZE);
        (void)tdei_hex_encode(a->fault.found, sizeof(a->fault.found),
                              it->claimed_id, CODEC_HASH_SIZE);
        return AUDIT_FAULT;
    }
    rc = exec_query_tip(r, &tip, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (header->time_ms <= tip.time_ms) {
        (void)audit_fault(a, h, "time_ms",
                          "the block's time is not after the previous "
                          "block's");
        (void)snprintf(a->fault.expected, sizeof(a->fault.expected),
                       "more than %llu", (unsigned long long)tip.time_ms);
        (void)snprintf(a->fault.found, sizeof(a->fault.found), "%llu",
                       (unsigned long long)header->time_ms);
        return AUDIT_FAULT;
    }
    rc = exec_next_header(r, block->txs, block->n_txs, &next, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (audit_hash_check(a, h, "last_block_id", next.last_block_id,
                         next.last_block_id_len, &header->last_block_id) ||
        audit_hash_check(a, h, "txs_root", next.txs_root, CODEC_HASH_SIZE,
                         &header->txs_root) ||
        audit_hash_check(a, h, "last_results_root", next.last_results_root,
                         CODEC_HASH_SIZE, &header->last_results_root) ||
        audit_hash_check(a, h, "app_hash", next.app_hash, CODEC_HASH_SIZE,
                         &header->app_hash) ||
        audit_hash_check(a, h, "validators_hash", next.validators_hash,
                         CODEC_HASH_SIZE, &header->validators_hash) ||
        audit_hash_check(a, h, "next_validators_hash",
                         next.next_validators_hash, CODEC_HASH_SIZE,
                         &header->next_validators_hash)) {
        return AUDIT_FAULT;
    }
    if (h > 1) {
        return audit_commit_check(a, r, h, "last_commit", block->last_commit,
                                  h - 1, errmsg);
    }
    return 0;
}

/* The commit that decided block @h (@id), checked against the set of @h
 * once the block is executed. Returns 0, AUDIT_FAULT (a fault) or a
 * failure. */
static int audit_own_commit(struct audit *a, uint64_t h,
                            const uint8_t id[CODEC_HASH_SIZE],
                            const struct audit_item *it, char *errmsg)
{
    Tdei__Commit *commit = NULL;
    struct store_read *r;
    char why[TDEI_ERRMSG_SIZE] = "";
    int rc;

    if (it->commit == NULL) {
        return audit_fault(a, h, "commit",
                           "there is no commit for block %llu: nothing "
                           "shows that the validators decided it",
                           (unsigned long long)h);
    }
    rc = codec_commit_decode(&commit, it->commit, it->commit_len, &a->limits,
                             why);
    if (rc != 0) {
        return audit_fault(a, h, "commit", "the commit does not decode: %s",
                           why);
    }
    if (commit->height != h ||
        memcmp(commit->block_id.data, id, CODEC_HASH_SIZE) != 0) {
        (void)audit_fault(a, h, "commit",
                          "the commit is for another block than this one");
        (void)snprintf(a->fault.expected, sizeof(a->fault.expected),
                       "height %llu, block ", (unsigned long long)h);
        (void)tdei_hex_encode(a->fault.expected + strlen(a->fault.expected),
                              sizeof(a->fault.expected) -
                                  strlen(a->fault.expected),
                              id, CODEC_HASH_SIZE);
        (void)snprintf(a->fault.found, sizeof(a->fault.found),
                       "height %llu, block ",
                       (unsigned long long)commit->height);
        (void)tdei_hex_encode(a->fault.found + strlen(a->fault.found),
                              sizeof(a->fault.found) - strlen(a->fault.found),
                              commit->block_id.data, CODEC_HASH_SIZE);
        codec_commit_free(commit);
        return AUDIT_FAULT;
    }
    rc = store_read_begin(a->store, &r, errmsg);
    if (rc == 0) {
        rc = audit_commit_check(a, r, h, "commit", commit, h, errmsg);
        store_read_end(r);
    }
    if (rc == 0) {
        a->commits++;
        a->signatures += commit->n_signatures;
    }
    codec_commit_free(commit);
    return rc;
}

/* Check and execute block @h. Returns 0, AUDIT_FAULT (a fault:
 * a->fault) or a failure of the audit itself (errmsg). */
static int audit_block(struct audit *a, uint64_t h, const struct audit_item *it,
                       char *errmsg)
{
    Tdei__Block *block = NULL;
    Tdei__Header *header = NULL;
    struct exec_block_info info;
    struct store_read *r = NULL;
    uint8_t id[CODEC_HASH_SIZE];
    char why[TDEI_ERRMSG_SIZE] = "";
    int rc;

    rc = codec_block_decode(&block, &header, it->block, it->block_len,
                            &a->limits, why);
    if (rc != 0) {
        return audit_fault(a, h, "decode", "block %llu does not decode: %s",
                           (unsigned long long)h, why);
    }
    codec_block_id(id, block->header.data, block->header.len);
    rc = store_read_begin(a->store, &r, errmsg);
    if (rc == 0) {
        rc = audit_header(a, r, h, block, header, id, it, errmsg);
    }
    if (rc == 0) {
        store_batch_reset(a->batch);
        rc = exec_block(a->exec, a->batch, &info, r, block, header, it->block,
                        it->block_len, NULL, why);
        if (rc == TDEI_NOMEM || rc == TDEI_IOERR || rc == TDEI_CORRUPT) {
            (void)snprintf(errmsg, TDEI_ERRMSG_SIZE, "%s", why);
        } else if (rc != 0) {
            rc = audit_fault(a, h, "execution",
                             "the block does not execute: %s (%s)", why,
                             tdei_errname(rc));
        }
    }
    store_read_end(r);
    if (rc == 0) {
        rc = store_commit(a->store, a->batch, errmsg);
        store_batch_reset(a->batch);
    }
    if (rc == 0) {
        a->txs += info.tx_count;
        a->refused_txs += info.refused_count;
        memcpy(a->app_hash, info.app_hash, CODEC_HASH_SIZE);
        memcpy(a->last_id, id, CODEC_HASH_SIZE);
        if (h > 1 && memcmp(a->vhash, header->validators_hash.data,
                            CODEC_HASH_SIZE) != 0) {
            if (a->set_changes <
                sizeof(a->change_heights) / sizeof(a->change_heights[0])) {
                a->change_heights[a->set_changes] = h;
            }
            a->set_changes++;
        }
        memcpy(a->vhash, header->validators_hash.data, CODEC_HASH_SIZE);
        rc = audit_own_commit(a, h, id, it, errmsg);
    }
    if (rc == 0) {
        rc = audit_limits(a, errmsg); /* governance may change them */
    }
    codec_block_free(block);
    codec_header_free(header);
    return rc;
}

/* ---- the command -------------------------------------------------------- */

static int audit_export(const struct audit *a, uint64_t h,
                        const struct audit_item *it, char *errmsg)
{
    char path[AUDIT_PATH_SIZE];
    int rc;

    audit_block_path(path, a->export_dir, h, "block");
    rc = audit_file_write(path, it->block, it->block_len, errmsg);
    if (rc == 0 && it->commit != NULL) {
        audit_block_path(path, a->export_dir, h, "commit");
        rc = audit_file_write(path, it->commit, it->commit_len, errmsg);
    }
    return rc;
}

static json_t *audit_changes_json(const struct audit *a)
{
    json_t *arr = json_array();
    uint64_t n = a->set_changes < 16 ? a->set_changes : 16;

    for (uint64_t i = 0; arr != NULL && i < n; i++) {
        (void)json_array_append_new(
            arr, json_integer((json_int_t)a->change_heights[i]));
    }
    return arr;
}

static double audit_seconds(const struct timespec *start)
{
    struct timespec now;

    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) +
           (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Print the outcome: the first fault (exit 3) or the summary (exit 0). */
static int audit_report(const struct audit *a, double seconds)
{
    char app[TDEI_HEX_SIZE(32)];
    char last[TDEI_HEX_SIZE(32)];

    (void)tdei_hex_encode(app, sizeof(app), a->app_hash, CODEC_HASH_SIZE);
    (void)tdei_hex_encode(last, sizeof(last), a->last_id, CODEC_HASH_SIZE);
    if (a->faulted) {
        const struct audit_fault *f = &a->fault;
        if (a->ctx->json) {
            (void)cli_print_json(json_pack(
                "{s:b, s:s, s:I, s:I, s:{s:I, s:s, s:s, s:s, s:s}, s:I, "
                "s:f}",
                "ok", 0, "chain_id", a->genesis.chain_id, "from",
                (json_int_t)a->from, "to", (json_int_t)a->to, "fault", "height",
                (json_int_t)f->height, "check", f->check, "expected",
                f->expected, "found", f->found, "detail", f->detail,
                "verified_to", (json_int_t)(f->height - 1), "seconds",
                seconds));
        }
        fprintf(stderr,
                "tdei: error: audit chain: fault at height %llu: %s: %s\n",
                (unsigned long long)f->height, f->check, f->detail);
        if (f->expected[0] != '\0' || f->found[0] != '\0') {
            fprintf(stderr, "  expected  %s\n  found     %s\n", f->expected,
                    f->found);
        }
        fprintf(stderr, "  heights 1..%llu verified before it\n",
                (unsigned long long)(f->height - 1));
        return CLI_EXIT_INVALID;
    }
    if (a->ctx->json) {
        return cli_print_json(json_pack(
            "{s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s, "
            "s:s, s:f, s:f}",
            "ok", 1, "chain_id", a->genesis.chain_id, "from",
            (json_int_t)a->from, "to", (json_int_t)a->to, "blocks",
            (json_int_t)a->blocks, "txs", (json_int_t)a->txs, "refused_txs",
            (json_int_t)a->refused_txs, "commits", (json_int_t)a->commits,
            "signatures", (json_int_t)a->signatures, "validator_set_changes",
            (json_int_t)a->set_changes, "change_heights", audit_changes_json(a),
            "app_hash", app, "last_block_id", last, "seconds", seconds,
            "seconds_per_1000_blocks",
            a->blocks > 0 ? seconds * 1000.0 / (double)a->blocks : 0.0));
    }
    printf("chain id          %s\n"
           "verified          heights %llu..%llu (%llu blocks replayed from "
           "genesis)\n"
           "txs               %llu re-executed, every signature checked "
           "(%llu refused by the contracts, as recorded)\n"
           "commits           %llu, %llu precommit signatures, each over "
           "more than 2/3 of its height's set\n"
           "validator sets    %llu change(s)",
           a->genesis.chain_id, (unsigned long long)a->from,
           (unsigned long long)a->to, (unsigned long long)a->blocks,
           (unsigned long long)a->txs, (unsigned long long)a->refused_txs,
           (unsigned long long)a->commits, (unsigned long long)a->signatures,
           (unsigned long long)a->set_changes);
    for (uint64_t i = 0; i < a->set_changes && i < 16; i++) {
        printf("%s%llu", i == 0 ? ", at heights " : ", ",
               (unsigned long long)a->change_heights[i]);
    }
    printf("\napp hash          %s (after height %llu)\n"
           "last block id     %s\n"
           "result            ok: every header, link, commit and app hash "
           "checks out\n"
           "elapsed           %.2f s\n",
           app, (unsigned long long)a->to, last, seconds);
    return CLI_EXIT_OK;
}

/* The node's chain id and tip. */
static int audit_node_tip(struct audit_source *src, char *chain_id, size_t size,
                          uint64_t *tip, char *errmsg)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetStatus get = TDEI__API__GET_STATUS__INIT;
    Tdei__Api__Response *resp = NULL;
    int rc;

    req.req_case = TDEI__API__REQUEST__REQ_GET_STATUS;
    req.get_status = &get;
    rc = api_client_call(&src->client, &req, &resp, errmsg);
    if (rc != 0) {
        return rc;
    }
    if (resp->code != 0 || resp->status == NULL) {
        rc = tdei_errorf(errmsg, TDEI_ERRMSG_SIZE,
                         resp->code != 0 ? (int)resp->code : TDEI_MALFORMED,
                         "the node did not give its status: %s", resp->error);
    } else {
        (void)snprintf(chain_id, size, "%s", resp->status->chain_id);
        *tip = resp->status->height;
    }
    api_client_response_free(resp);
    return rc;
}

/* Settle --from/--to against the top of the source; usage errors exit 2,
 * a range above the top exits 1. */
static int audit_range(struct audit *a, uint64_t top, int to_given,
                       const char *where)
{
    if (!to_given) {
        a->to = top;
    }
    if (top == 0) {
        return cli_fail(TDEI_NOTFOUND,
                        "there is no block to audit: the chain is at "
                        "height 0");
    }
    if (a->to > top) {
        (void)fprintf(stderr,
                      "tdei: error: --to %llu is above the last block %s "
                      "has, %llu; give --to %llu or less (TDEI_NOTFOUND)\n",
                      (unsigned long long)a->to, where, (unsigned long long)top,
                      (unsigned long long)top);
        return CLI_EXIT_FAIL;
    }
    if (a->from > a->to) {
        return cli_usage_error("audit chain", "--from %llu is above --to %llu",
                               (unsigned long long)a->from,
                               (unsigned long long)a->to);
    }
    return CLI_EXIT_OK;
}

/* Make --export DIR (mode 0700 when new). */
static int audit_export_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return cli_fail(TDEI_IOERR, strerror(errno));
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        (void)fprintf(stderr,
                      "tdei: error: --export %s is not a directory; give a "
                      "new or existing directory (TDEI_IOERR)\n",
                      dir);
        return CLI_EXIT_FAIL;
    }
    return CLI_EXIT_OK;
}

int cli_audit_chain(struct cli_ctx *ctx, int argc, char **argv)
{
    struct audit *a;
    struct audit_source src;
    const char *genesis_path = NULL;
    const char *blocks_from = NULL;
    const char *work_dir = NULL;
    const char *export_dir = NULL;
    uint64_t from = 0;
    uint64_t to = 0;
    const struct cli_opt opts[] = {
        {"from", CLI_OPT_U64, &from, "H",
         "first height to verify (default 1); lower ones are replayed too", 0,
         1, 0, NULL},
        {"to", CLI_OPT_U64, &to, "H",
         "last height to verify (default: the node's latest)", 0, 1, 0, NULL},
        {"genesis", CLI_OPT_TEXT, &genesis_path, "FILE",
         "the chain's genesis.json (default: the home's)", 0, 0, 0, NULL},
        {"blocks-from", CLI_OPT_TEXT, &blocks_from, "DIR",
         "read H.block and H.commit files (as --export writes) instead of "
         "asking a node",
         0, 0, 0, NULL},
        {"export", CLI_OPT_TEXT, &export_dir, "DIR",
         "also write each block and commit read to DIR/H.block, "
         "DIR/H.commit",
         0, 0, 0, NULL},
        {"work-dir", CLI_OPT_TEXT, &work_dir, "DIR",
         "where the scratch store is made (DIR/ledger, removed at the end; "
         "default a new directory under $TMPDIR)",
         0, 0, 0, NULL},
    };
    const struct cli_spec spec = {
        .what = "audit chain",
        .about =
            "Re-verify the chain from genesis, trusting no node: fetch the "
            "blocks\nand commits --from..--to from the node (or "
            "--blocks-from DIR), check\neach header's chain id, height, "
            "time and link to the block before, the\ntxs root, every "
            "commit (more than 2/3 of the validator set of its\nheight, "
            "each BIP-340 signature) and, by executing every block from\n"
            "genesis.json in a scratch store, the app hash, the results "
            "root and\nthe validator hashes. Reports the first fault "
            "(height, check, expected,\nfound) and exits 3; prints a "
            "summary and exits 0 when all checks out.\nExit 1: the audit "
            "could not run (no node, no genesis, --to above the\nchain); "
            "2: bad usage.",
        .opts = opts,
        .opts_count = sizeof(opts) / sizeof(opts[0]),
    };
    char default_genesis[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    char node_chain[TDEI_CHAIN_ID_MAX + 1] = "";
    struct timespec start;
    uint64_t top = 0;
    int first;
    int rc;

    if (!cli_parse(&spec, argc, argv, &first, &rc)) {
        return rc;
    }
    if (blocks_from != NULL && export_dir != NULL) {
        return cli_usage_error("audit chain",
                               "--export copies blocks read from a node; "
                               "it cannot be used with --blocks-from");
    }
    if (from > 0 && to > 0 && from > to) {
        return cli_usage_error("audit chain", "--from %llu is above --to %llu",
                               (unsigned long long)from,
                               (unsigned long long)to);
    }
    a = tdei_calloc(1, sizeof(*a));
    if (a == NULL) {
        return cli_fail(TDEI_NOMEM, "out of memory");
    }
    if ((work_dir != NULL &&
         (work_dir[0] == '\0' || strlen(work_dir) >= sizeof(a->work))) ||
        (blocks_from != NULL &&
         (blocks_from[0] == '\0' || strlen(blocks_from) >= 4000u)) ||
        (export_dir != NULL &&
         (export_dir[0] == '\0' || strlen(export_dir) >= 4000u))) {
        tdei_free(a);
        return cli_usage_error("audit chain",
                               "--work-dir, --blocks-from and --export take "
                               "a path of 1 to 3799 bytes");
    }
    memset(&src, 0, sizeof(src));
    a->ctx = ctx;
    a->from = from > 0 ? from : 1;
    a->to = to;
    a->export_dir = export_dir;
    if (genesis_path == NULL) {
        (void)home_path(default_genesis, ctx->home, "genesis.json");
        genesis_path = default_genesis;
    }
    rc = genesis_load(&a->genesis, genesis_path, 0, errmsg);
    if (rc != 0) {
        rc = cli_fail(rc, errmsg);
        goto out;
    }
    a->genesis_loaded = 1;
    if (export_dir != NULL) {
        rc = audit_export_dir(export_dir);
        if (rc != CLI_EXIT_OK) {
            goto out;
        }
    }
    if (blocks_from != NULL) {
        struct stat st;
        if (stat(blocks_from, &st) != 0 || !S_ISDIR(st.st_mode)) {
            (void)fprintf(stderr,
                          "tdei: error: --blocks-from %s is not a "
                          "directory; give the directory --export wrote "
                          "(TDEI_NOTFOUND)\n",
                          blocks_from);
            rc = CLI_EXIT_FAIL;
            goto out;
        }
        src.from_dir = 1;
        src.dir = blocks_from;
        top = audit_dir_top(blocks_from);
        rc = audit_range(a, top, to > 0, blocks_from);
    } else {
        rc = cli_connect(ctx, &src.client, AUDIT_TIMEOUT_MS);
        if (rc != CLI_EXIT_OK) {
            goto out;
        }
        src.connected = 1;
        rc = audit_node_tip(&src, node_chain, sizeof(node_chain), &top, errmsg);
        if (rc != 0) {
            rc = cli_fail(rc, errmsg);
            goto out;
        }
        if (strcmp(node_chain, a->genesis.chain_id) != 0) {
            (void)fprintf(stderr,
                          "tdei: error: the node runs chain %s, but %s is "
                          "the genesis of chain %s; give the genesis.json "
                          "of the node's chain with --genesis FILE "
                          "(TDEI_CHAIN_ID)\n",
                          node_chain, genesis_path, a->genesis.chain_id);
            rc = CLI_EXIT_FAIL;
            goto out;
        }
        rc = audit_range(a, top, to > 0, "the node");
    }
    if (rc != CLI_EXIT_OK) {
        goto out;
    }
    src.to = a->to;
    src.next_ask = 1;
    rc = audit_open(a, work_dir, errmsg);
    if (rc != 0) {
        rc = cli_fail(rc, errmsg);
        goto out;
    }
    (void)clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint64_t h = 1; h <= a->to; h++) {
        struct audit_item it;
        rc = audit_source_get(&src, a, h, &it, errmsg);
        if (rc != 0) {
            rc = cli_fail(rc, errmsg);
            goto out;
        }
        rc = export_dir != NULL ? audit_export(a, h, &it, errmsg) : 0;
        if (rc == 0) {
            rc = audit_block(a, h, &it, errmsg);
        }
        audit_item_free(&it);
        if (rc == AUDIT_FAULT) {
            break;
        }
        if (rc != 0) {
            rc = cli_fail(rc, errmsg);
            goto out;
        }
        a->blocks++;
    }
    rc = audit_report(a, audit_seconds(&start));
out:
    audit_source_close(&src);
    audit_close(a);
    tdei_free(a);
    return rc;
}
