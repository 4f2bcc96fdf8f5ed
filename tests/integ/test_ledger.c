/* The ledger on one node, end to end: a real tdei-node process driven
 * through its client API.
 *
 *   load:  10,000 transfers from 10 signers, all committed, every balance
 *          exact; after a stop and a restart the same height, app hash
 *          and balances.
 *   crash: under load, kill -9 the node at seeded random moments 20 times
 *          and restart it: every tx the node reported committed is still
 *          there at its height, nothing is applied twice (nonces and
 *          balances agree with the committed txs), and replaying every
 *          stored block on a fresh store gives the stored app hash. The
 *          double-sign guard's record, read while the node is down, only
 *          moves forward from kill to kill (an equal position holds the
 *          identical message), and the commit of the tip is exactly the
 *          precommit it records.
 *   resume: a node stopped right after signing the proposal, the prevote
 *          or the precommit of a block it built (a guard record and a
 *          durable proposal written as the node writes them) resumes
 *          from the record: it commits exactly that block, in round 0
 *          (proposal, precommit: the precommit is reused, not signed
 *          again) or, after its timeouts, in round 1 (prevote).
 * TDEI_TEST_SEED=N replays the crash schedule. */
#include "harness.h"
#include "testutil.h"

#include "config.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "contracts/contract.h"
#include "core/error.h"
#include "core/keyfile.h"
#include "exec/exec.h"
#include "genesis.h"
#include "home.h"
#include "node.h"
#include "signer.h"
#include "store/store.h"
#include "votes.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOAD_SIGNERS 10
#define LOAD_PER_SIGNER 1000
#define BALANCE 1000000000ull
#define WINDOW 48 /* requests in flight on one connection (< max_pending) */

static struct integ_net net;

static void integ_setup(void)
{
    testutil_leak_setup();
}

static void integ_teardown(void)
{
    integ_net_destroy(&net);
    testutil_leak_teardown();
}

/* Receive one response; count it; returns its code. */
static uint32_t recv_one(struct api_client *client, uint64_t *height)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    uint32_t code;

    ck_assert_msg(api_client_recv(client, &resp, errmsg) == 0, "recv: %s",
                  errmsg);
    code = resp->code;
    if (height != NULL) {
        *height = code == 0 ? resp->submit->height : 0;
    }
    api_client_response_free(resp);
    return code;
}

static void send_submit(struct api_client *client, const uint8_t *tx,
                        size_t len, int wait)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    submit.tx.data = (uint8_t *)(uintptr_t)tx;
    submit.tx.len = len;
    submit.wait = wait != 0;
    submit.timeout_ms = 60000;
    req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
    req.submit = &submit;
    ck_assert_msg(api_client_send(client, &req, errmsg) == 0, "send: %s",
                  errmsg);
}

static void check_balances(struct api_client *client, const uint64_t *want)
{
    for (size_t i = 0; i < net.members; i++) {
        uint64_t got = 0;
        ck_assert_int_eq(integ_balance(client, net.ids[i], &got), 0);
        ck_assert_msg(got == want[i], "%s holds %llu, expected %llu",
                      net.ids[i], (unsigned long long)got,
                      (unsigned long long)want[i]);
    }
}

START_TEST(test_ledger_10000_transfers_exact_and_restart)
{
    struct api_client client;
    uint64_t want[LOAD_SIGNERS + 1];
    uint64_t height = 0;
    uint64_t height2 = 0;
    uint8_t app[32];
    uint8_t app2[32];
    size_t sent = 0;
    size_t answered = 0;
    size_t total = LOAD_SIGNERS * LOAD_PER_SIGNER;

    ck_assert_int_eq(integ_net_create(&net, LOAD_SIGNERS + 1, BALANCE,
                                      50),
                     0);
    ck_assert_int_eq(integ_node_start(&net, 20000), 0);
    ck_assert_int_eq(integ_connect(&net, &client), 0);
    for (size_t i = 0; i <= LOAD_SIGNERS; i++) {
        want[i] = BALANCE;
    }
    /* Signer s (1..10) sends its k-th transfer (nonce k) of k credits to
     * member (s + k) % 11, skipping itself. Pipelined, waiting for each
     * commit. */
    while (answered < total) {
        while (sent < total && sent - answered < WINDOW) {
            size_t s = 1 + sent % LOAD_SIGNERS;
            uint64_t k = 1 + sent / LOAD_SIGNERS;
            size_t to = (s + (size_t)k) % (LOAD_SIGNERS + 1);
            uint8_t *tx = NULL;
            size_t len = 0;
            if (to == s) {
                to = (to + 1) % (LOAD_SIGNERS + 1);
            }
            ck_assert_int_eq(integ_transfer_tx(&net, s, to, k, k, &tx, &len),
                             0);
            send_submit(&client, tx, len, 1);
            tdei_free(tx);
            want[s] -= k;
            want[to] += k;
            sent++;
        }
        ck_assert_uint_eq(recv_one(&client, NULL), 0);
        answered++;
    }
    check_balances(&client, want);
    ck_assert_int_eq(integ_status(&client, &height, app), 0);
    ck_assert_uint_gt(height, 0);
    api_client_close(&client);
    ck_assert_int_eq(integ_node_stop(&net, SIGTERM, 20000), 0);
    ck_assert_int_eq(integ_node_start(&net, 20000), 0);
    ck_assert_int_eq(integ_connect(&net, &client), 0);
    ck_assert_int_eq(integ_status(&client, &height2, app2), 0);
    ck_assert_uint_eq(height2, height);
    ck_assert_mem_eq(app2, app, 32);
    check_balances(&client, want);
    api_client_close(&client);
    ck_assert_int_eq(integ_node_stop(&net, SIGTERM, 20000), 0);
}
END_TEST

/* ---- crash ------------------------------------------------------------------ */

#define CRASH_ROUNDS 20
#define CRASH_SIGNERS 4

/* One committed tx as the submitter saw it. */
struct crash_record {
    uint8_t tx_id[32];
    uint64_t height; /* 0 until reported committed */
    uint64_t nonce;
    uint64_t amount;
    uint32_t from;
    uint32_t to;
};

/* The committed nonce of signer @s, read from its OperatorKey record. */
static uint64_t committed_nonce(struct api_client *client, size_t s)
{
    uint64_t nonce = 0;

    ck_assert_int_eq(integ_committed_nonce(client, &net, s, &nonce), 0);
    return nonce;
}

/* The submitter (a child process): send transfers with wait, pipelined;
 * append every tx to @sent_fd before sending it and every one the node
 * reports committed to @done_fd, until the node dies. */
static void crash_submitter(int sent_fd, int done_fd, unsigned seed)
{
    struct api_client client;
    uint64_t nonce[CRASH_SIGNERS + 1];
    struct crash_record slots[WINDOW];
    int used[WINDOW] = {0};
    size_t count = 0;
    size_t turn = 0;
    char errmsg[TDEI_ERRMSG_SIZE];

    if (integ_connect(&net, &client) != 0) {
        _exit(0);
    }
    for (size_t s = 1; s <= CRASH_SIGNERS; s++) {
        nonce[s] = committed_nonce(&client, s);
    }
    srand(seed);
    for (;;) {
        while (count < WINDOW) {
            Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
            Tdei__Api__SubmitTx submit = TDEI__API__SUBMIT_TX__INIT;
            Tdei__Tx *decoded = NULL;
            size_t s = 1 + turn++ % CRASH_SIGNERS;
            size_t slot = 0;
            struct crash_record *rec;
            uint8_t *tx = NULL;
            size_t len = 0;
            while (used[slot]) {
                slot++;
            }
            rec = &slots[slot];
            memset(rec, 0, sizeof(*rec));
            rec->from = (uint32_t)s;
            rec->to = (uint32_t)((s + 1 + (size_t)rand() % CRASH_SIGNERS) %
                                 (CRASH_SIGNERS + 1));
            if (rec->to == s) {
                rec->to = 0;
            }
            rec->amount = 1 + (uint64_t)(rand() % 100);
            rec->nonce = ++nonce[s];
            if (integ_transfer_tx(&net, s, rec->to, rec->amount, rec->nonce,
                                  &tx, &len) != 0 ||
                codec_tx_decode(&decoded, tx, len, len, errmsg) != 0) {
                _exit(1);
            }
            codec_tx_id(rec->tx_id, decoded->body.data, decoded->body.len);
            codec_tx_free(decoded);
            if (write(sent_fd, rec, sizeof(*rec)) != (ssize_t)sizeof(*rec)) {
                _exit(1);
            }
            submit.tx.data = tx;
            submit.tx.len = len;
            submit.wait = 1;
            submit.timeout_ms = 60000;
            req.req_case = TDEI__API__REQUEST__REQ_SUBMIT;
            req.submit = &submit;
            req.id = slot + 1;
            if (api_client_send(&client, &req, errmsg) != 0) {
                _exit(0);
            }
            tdei_free(tx);
            used[slot] = 1;
            count++;
        }
        {
            Tdei__Api__Response *resp = NULL;
            struct crash_record *rec;
            if (api_client_recv(&client, &resp, errmsg) != 0) {
                _exit(0); /* the node died */
            }
            if (resp->id == 0 || resp->id > WINDOW || !used[resp->id - 1]) {
                _exit(1);
            }
            rec = &slots[resp->id - 1];
            if (resp->code == 0) {
                rec->height = resp->submit->height;
                if (write(done_fd, rec, sizeof(*rec)) !=
                    (ssize_t)sizeof(*rec)) {
                    _exit(1);
                }
            }
            used[resp->id - 1] = 0;
            count--;
            api_client_response_free(resp);
        }
    }
}

/* Read the records of @path into *@out (malloc'd); returns the count. */
static size_t read_records(const char *path, struct crash_record **out)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 1024;
    size_t n = 0;

    ck_assert_ptr_nonnull(f);
    *out = malloc(cap * sizeof(**out));
    ck_assert_ptr_nonnull(*out);
    while (fread(&(*out)[n], sizeof(**out), 1, f) == 1) {
        if (++n == cap) {
            cap *= 2;
            *out = realloc(*out, cap * sizeof(**out));
            ck_assert_ptr_nonnull(*out);
        }
    }
    fclose(f);
    return n;
}

static int record_compare(const void *a, const void *b)
{
    return memcmp(((const struct crash_record *)a)->tx_id,
                  ((const struct crash_record *)b)->tx_id, 32);
}

/* Look tx @rec up: 1 with *@height when committed, 0 when not. */
static int find_tx(struct api_client *client, const struct crash_record *rec,
                   uint64_t *height)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTx get = TDEI__API__GET_TX__INIT;
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int found;

    get.tx_id.data = (uint8_t *)(uintptr_t)rec->tx_id;
    get.tx_id.len = 32;
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX;
    req.get_tx = &get;
    ck_assert_int_eq(api_client_call(client, &req, &resp, errmsg), 0);
    ck_assert_msg(resp->code == 0 || resp->code == TDEI_NOTFOUND,
                  "get tx: %s", resp->error);
    found = resp->code == 0;
    if (found) {
        *height = resp->tx->height;
    }
    api_client_response_free(resp);
    return found;
}

/* Replay every block of the stopped node's store on a fresh store and
 * compare the app hash with the stored one. */
static void replay_and_compare(void)
{
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct store *orig = NULL;
    struct store *fresh = NULL;
    struct store_batch *batch = NULL;
    struct store_read *r = NULL;
    struct store_read *fr = NULL;
    struct exec *ex = NULL;
    struct exec_tip tip;
    struct exec_tip ftip;
    struct exec_block_info info;
    struct genesis g;
    char path[HOME_PATH_MAX];
    char freshdir[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    struct store_options opts = store_options_default();

    (void)home_path(path, net.homes[0], "genesis.json");
    ck_assert_int_eq(genesis_load(&g, path, 0, errmsg), 0);
    (void)home_path(path, net.homes[0], "data/ledger");
    ck_assert_int_eq(store_open(&orig, path, &opts, errmsg), 0);
    (void)snprintf(freshdir, sizeof(freshdir), "%s/replay", net.dir);
    ck_assert_int_eq(store_open(&fresh, freshdir, &opts, errmsg), 0);
    ck_assert_int_eq(store_batch_create(&batch, EXEC_BATCH_SIZE_MAX), 0);
    ck_assert_int_eq(exec_create(&ex), 0);
    ck_assert_int_eq(exec_genesis(batch, &g, NULL, errmsg), 0);
    ck_assert_int_eq(store_commit(fresh, batch, errmsg), 0);
    ck_assert_int_eq(store_read_begin(orig, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_tip(r, &tip, errmsg), 0);
    for (uint64_t h = 1; h <= tip.height; h++) {
        uint8_t key[8];
        const uint8_t *bytes;
        size_t len;
        Tdei__Block *block = NULL;
        Tdei__Header *header = NULL;
        store_u64_encode(key, h);
        ck_assert_int_eq(store_get(r, STORE_DB_BLOCKS, key, 8, &bytes, &len),
                         0);
        ck_assert_int_eq(
            codec_block_decode(&block, &header, bytes, len, &limits, errmsg),
            0);
        store_batch_reset(batch);
        ck_assert_int_eq(store_read_begin(fresh, &fr, errmsg), 0);
        ck_assert_msg(exec_block(ex, batch, &info, fr, block, header, bytes,
                                 len, NULL, errmsg) == 0,
                      "replay of block %llu: %s", (unsigned long long)h,
                      errmsg);
        store_read_end(fr);
        ck_assert_int_eq(store_commit(fresh, batch, errmsg), 0);
        codec_block_free(block);
        codec_header_free(header);
    }
    store_read_end(r);
    ck_assert_int_eq(store_read_begin(fresh, &fr, errmsg), 0);
    ck_assert_int_eq(exec_query_tip(fr, &ftip, errmsg), 0);
    store_read_end(fr);
    ck_assert_uint_eq(ftip.height, tip.height);
    ck_assert_mem_eq(ftip.app_hash, tip.app_hash, 32);
    exec_destroy(ex);
    store_batch_destroy(batch);
    store_close(fresh);
    store_close(orig);
    genesis_free(&g);
}

/* The double-sign guard across kills: what one stopped node left. */
struct guard_seen
{
    int has;                 /* 1: a record was read before */
    struct cons_signed last; /* that record */
    size_t moved;            /* kills after which it had moved forward */
};

static int guard_cmp(const struct cons_signed *a, const struct cons_signed *b)
{
    if (a->height != b->height) {
        return a->height < b->height ? -1 : 1;
    }
    if (a->round != b->round) {
        return a->round < b->round ? -1 : 1;
    }
    if (a->step != b->step) {
        return a->step < b->step ? -1 : 1;
    }
    return 0;
}

/* With the node down, read its guard record and its tip: the record never
 * moved backwards since @seen, an equal position is the identical signed
 * message, the record is at the tip or the height after it, and at the
 * tip it is the precommit whose signature the tip's commit carries. */
static void guard_check(struct guard_seen *seen)
{
    struct store_options opts = store_options_default();
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct store *store = NULL;
    struct store_read *r = NULL;
    struct cons_signed rec;
    struct exec_tip tip;
    Tdei__Commit *commit = NULL;
    const uint8_t *val;
    size_t vlen;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    int rc;

    (void)home_path(path, net.homes[0], "data/ledger");
    ck_assert_msg(store_open(&store, path, &opts, errmsg) == 0, "%s", errmsg);
    rc = signer_load(store, &rec, errmsg);
    ck_assert_msg(rc == 0 || rc == TDEI_NOTFOUND, "%s", errmsg);
    ck_assert_int_eq(store_read_begin(store, &r, errmsg), 0);
    ck_assert_int_eq(exec_query_tip(r, &tip, errmsg), 0);
    if (rc == TDEI_NOTFOUND) {
        ck_assert_msg(!seen->has, "the guard's record disappeared");
        ck_assert_uint_eq(tip.height, 0);
    } else {
        if (seen->has) {
            int cmp = guard_cmp(&rec, &seen->last);
            ck_assert_msg(cmp >= 0,
                          "the guard moved back from %llu/%u/%d to "
                          "%llu/%u/%d",
                          (unsigned long long)seen->last.height,
                          seen->last.round, (int)seen->last.step,
                          (unsigned long long)rec.height, rec.round,
                          (int)rec.step);
            if (cmp == 0) {
                ck_assert_uint_eq(rec.len, seen->last.len);
                ck_assert_mem_eq(rec.bytes, seen->last.bytes, rec.len);
                ck_assert_mem_eq(rec.sig, seen->last.sig, CONS_SIG_SIZE);
            } else {
                seen->moved++;
            }
        }
        ck_assert_msg(rec.height == tip.height || rec.height == tip.height + 1,
                      "guard at height %llu, tip %llu",
                      (unsigned long long)rec.height,
                      (unsigned long long)tip.height);
        if (rec.height == tip.height) {
            ck_assert_int_eq(store_get(r, STORE_DB_META,
                                       (const uint8_t *)NODE_META_LAST_COMMIT,
                                       strlen(NODE_META_LAST_COMMIT), &val,
                                       &vlen),
                             0);
            ck_assert_int_eq(
                codec_commit_decode(&commit, val, vlen, &limits, errmsg), 0);
            ck_assert_int_eq(rec.step, CONS_STEP_PRECOMMIT);
            ck_assert_uint_eq(rec.round, commit->round);
            ck_assert_int_eq(rec.id.nil, 0);
            ck_assert_mem_eq(rec.id.bytes, commit->block_id.data, 32);
            ck_assert_uint_eq(commit->n_signatures, 1);
            ck_assert_mem_eq(rec.sig, commit->signatures[0]->sig.data,
                             CONS_SIG_SIZE);
            codec_commit_free(commit);
        }
        seen->last = rec;
        seen->has = 1;
    }
    store_read_end(r);
    store_close(store);
}

START_TEST(test_ledger_survives_kill_9_under_load)
{
    const char *seed_env = getenv("TDEI_TEST_SEED");
    unsigned seed = seed_env != NULL ? (unsigned)strtoul(seed_env, NULL, 10)
                                     : (unsigned)getpid();
    char sent_path[INTEG_PATH_MAX + 16];
    char done_path[INTEG_PATH_MAX + 16];
    struct crash_record *sent = NULL;
    struct crash_record *done = NULL;
    struct api_client client;
    struct guard_seen guard = {0};
    uint64_t want[CRASH_SIGNERS + 1];
    uint64_t applied[CRASH_SIGNERS + 1] = {0};
    size_t nsent;
    size_t ndone;

    fprintf(stderr, "crash test seed %u (TDEI_TEST_SEED=%u replays it)\n",
            seed, seed);
    srand(seed);
    ck_assert_int_eq(integ_net_create(&net, CRASH_SIGNERS + 1, BALANCE,
                                      20),
                     0);
    (void)snprintf(sent_path, sizeof(sent_path), "%s/sent.bin", net.dir);
    (void)snprintf(done_path, sizeof(done_path), "%s/done.bin", net.dir);
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int sent_fd;
        int done_fd;
        pid_t child;
        int status;
        ck_assert_int_eq(integ_node_start(&net, 20000), 0);
        sent_fd = open(sent_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        done_fd = open(done_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        ck_assert_int_ge(sent_fd, 0);
        ck_assert_int_ge(done_fd, 0);
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
            crash_submitter(sent_fd, done_fd, seed + (unsigned)round);
            _exit(0);
        }
        close(sent_fd);
        close(done_fd);
        (void)usleep((useconds_t)(100000 + rand() % 400000));
        ck_assert_int_eq(integ_node_stop(&net, SIGKILL, 10000), 128 + 9);
        (void)kill(child, SIGKILL);
        (void)waitpid(child, &status, 0);
        guard_check(&guard);
    }
    ck_assert_int_eq(integ_node_start(&net, 20000), 0);
    ck_assert_int_eq(integ_connect(&net, &client), 0);
    nsent = read_records(sent_path, &sent);
    ndone = read_records(done_path, &done);
    ck_assert_uint_gt(ndone, 0);
    /* Every tx the node reported committed is there, at its height. */
    for (size_t i = 0; i < ndone; i++) {
        uint64_t height = 0;
        ck_assert_msg(find_tx(&client, &done[i], &height),
                      "committed tx %zu was lost", i);
        ck_assert_uint_eq(height, done[i].height);
    }
    /* Balances are exactly what the committed txs say, and each signer's
     * nonce is exactly its number of committed txs: nothing applied
     * twice, nothing applied that is not on the ledger. */
    for (size_t i = 0; i <= CRASH_SIGNERS; i++) {
        want[i] = BALANCE;
    }
    /* A round may re-send a body a killed round sent already (same signer,
     * nonce, receiver and amount: the same tx id); count each id once. */
    qsort(sent, nsent, sizeof(*sent), record_compare);
    for (size_t i = 0; i < nsent; i++) {
        uint64_t height = 0;
        if (i > 0 && memcmp(sent[i].tx_id, sent[i - 1].tx_id, 32) == 0) {
            continue;
        }
        if (find_tx(&client, &sent[i], &height)) {
            want[sent[i].from] -= sent[i].amount;
            want[sent[i].to] += sent[i].amount;
            applied[sent[i].from]++;
        }
    }
    for (size_t s = 1; s <= CRASH_SIGNERS; s++) {
        ck_assert_uint_eq(committed_nonce(&client, s), applied[s]);
    }
    check_balances(&client, want);
    fprintf(stderr,
            "crash test: %d kills, %zu txs sent, %zu reported "
            "committed; the guard moved forward across %zu\n",
            CRASH_ROUNDS, nsent, ndone, guard.moved);
    api_client_close(&client);
    ck_assert_int_eq(integ_node_stop(&net, SIGTERM, 20000), 0);
    guard_check(&guard);
    ck_assert_uint_gt(guard.moved, 0);
    replay_and_compare();
    free(sent);
    free(done);
}
END_TEST

/* ---- resume from the guard's record -------------------------------------- */

/* Set home 0's consensus timeouts to @ms, without growth. */
static void timeouts_set(uint64_t ms)
{
    struct tdei_config cfg;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";
    FILE *f;

    (void)home_path(path, net.homes[0], "config.ini");
    ck_assert_msg(config_load(&cfg, path, errmsg) == 0, "%s", errmsg);
    cfg.timeout_propose_ms = ms;
    cfg.timeout_prevote_ms = ms;
    cfg.timeout_precommit_ms = ms;
    cfg.timeout_propose_delta_ms = 0;
    cfg.timeout_prevote_delta_ms = 0;
    cfg.timeout_precommit_delta_ms = 0;
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(config_write(&cfg, f), 0);
    fclose(f);
}

/* Home 0's node key: the validator's. */
static void node_key_load(struct tdei_keypair *kp)
{
    struct tdei_keyfile_key key;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    (void)home_key_path(path, net.homes[0], HOME_KEY_NODE);
    ck_assert_msg(tdei_keyfile_load(path, &key, NULL, errmsg) == 0, "%s",
                  errmsg);
    ck_assert_int_eq(tdei_keypair_from_secret(kp, key.secret), 0);
    tdei_keyfile_key_wipe(&key);
}

/* With the node down, do what it does up to @last_step at the height
 * after the tip, round 0, then "crash": build the block of @tx as the
 * node builds it, make it durable as meta NODE_META_PROPOSAL, and persist
 * the guard's records for its proposal, prevote and precommit up to
 * @last_step, signed with the node key. Out: the block's height and id,
 * and the last record. */
static void crash_after(enum cons_step last_step, const uint8_t *tx,
                        size_t tx_len, uint64_t *height, uint8_t id[32],
                        struct cons_signed *last)
{
    struct store_options opts = store_options_default();
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct exec_next_header next;
    Tdei__Header header = TDEI__HEADER__INIT;
    Tdei__Block block = TDEI__BLOCK__INIT;
    Tdei__Commit *last_commit = NULL;
    ProtobufCBinaryData txs[1] = {{tx_len, (uint8_t *)(uintptr_t)tx}};
    struct tdei_keypair kp;
    struct votes_crypto vc;
    struct cons_crypto crypto;
    struct store *store = NULL;
    struct store_read *r = NULL;
    struct store_batch *batch = NULL;
    const uint8_t *val;
    size_t vlen;
    uint8_t *hbytes = NULL;
    size_t hlen;
    uint8_t *bytes = NULL;
    size_t len;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    node_key_load(&kp);
    (void)home_path(path, net.homes[0], "data/ledger");
    ck_assert_msg(store_open(&store, path, &opts, errmsg) == 0, "%s", errmsg);
    ck_assert_int_eq(store_read_begin(store, &r, errmsg), 0);
    ck_assert_msg(exec_next_header(r, txs, 1, &next, errmsg) == 0, "%s",
                  errmsg);
    exec_header_fill(&header, &next);
    header.time_ms = next.time_ms_min;
    header.proposer = (ProtobufCBinaryData){32, kp.pubkey};
    ck_assert_int_eq(codec_header_encode(&header, &hbytes, &hlen), 0);
    ck_assert_int_eq(store_get(r, STORE_DB_META,
                               (const uint8_t *)NODE_META_LAST_COMMIT,
                               strlen(NODE_META_LAST_COMMIT), &val, &vlen),
                     0);
    ck_assert_int_eq(
        codec_commit_decode(&last_commit, val, vlen, &limits, errmsg), 0);
    store_read_end(r);
    block.header = (ProtobufCBinaryData){hlen, hbytes};
    block.n_txs = 1;
    block.txs = txs;
    block.last_commit = last_commit;
    ck_assert_int_eq(codec_block_encode(&block, &bytes, &len), 0);
    *height = next.height;
    codec_block_id(id, hbytes, hlen);
    ck_assert_int_eq(store_batch_create(&batch, 1u << 20), 0);
    ck_assert_int_eq(store_batch_put(batch, STORE_DB_META,
                                     (const uint8_t *)NODE_META_PROPOSAL,
                                     strlen(NODE_META_PROPOSAL), bytes, len),
                     0);
    ck_assert_msg(store_commit(store, batch, errmsg) == 0, "%s", errmsg);
    votes_crypto_init(&vc, &crypto, net.chain_id, &kp);
    for (int step = CONS_STEP_PROPOSE; step <= (int)last_step; step++) {
        struct cons_signed rec;
        memset(&rec, 0, sizeof(rec));
        rec.height = next.height;
        rec.round = 0;
        rec.step = (enum cons_step)step;
        rec.id.nil = 0;
        memcpy(rec.id.bytes, id, 32);
        rec.pol_round = -1;
        if (step == CONS_STEP_PROPOSE) {
            struct cons_proposal p = {.height = next.height, .pol_round = -1};
            memcpy(p.id, id, 32);
            rec.len = crypto.proposal_bytes(crypto.impl, &p, rec.bytes);
        } else {
            struct cons_vote v = {.height = next.height};
            v.type = step == CONS_STEP_PREVOTE ? CONS_PREVOTE : CONS_PRECOMMIT;
            v.id = rec.id;
            rec.len = crypto.vote_bytes(crypto.impl, &v, rec.bytes);
        }
        ck_assert_int_eq(crypto.sign(crypto.impl, rec.bytes, rec.len, rec.sig),
                         0);
        ck_assert_msg(signer_persist(store, &rec, errmsg) == 0, "%s", errmsg);
        *last = rec;
    }
    store_batch_destroy(batch);
    store_close(store);
    codec_commit_free(last_commit);
    tdei_free(hbytes);
    tdei_free(bytes);
    tdei_keypair_wipe(&kp);
}

/* Wait (at most 10 s) until the node's tip reaches @height. */
static void wait_height(struct api_client *client, uint64_t height)
{
    uint64_t deadline = integ_now_ms() + 10000;
    uint64_t h = 0;

    while (integ_now_ms() < deadline) {
        ck_assert_int_eq(integ_status(client, &h, NULL), 0);
        if (h >= height) {
            return;
        }
        (void)usleep(20000);
    }
    ck_abort_msg("the node stayed at height %llu, short of %llu",
                 (unsigned long long)h, (unsigned long long)height);
}

START_TEST(test_ledger_restart_resumes_from_the_signed_record)
{
    static const struct
    {
        enum cons_step step;
        uint32_t round; /* of the commit */
        int reused;     /* the commit carries the recorded precommit */
    } cases[] = {
        {CONS_STEP_PROPOSE, 0, 0},
        {CONS_STEP_PREVOTE, 1, 0},
        {CONS_STEP_PRECOMMIT, 0, 1},
    };
    struct api_client client;
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct store_options opts = store_options_default();
    uint8_t *tx = NULL;
    size_t len = 0;
    uint32_t code = 0;
    uint32_t result = 0;
    char path[HOME_PATH_MAX];
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    ck_assert_int_eq(integ_net_create(&net, 2, BALANCE, 20), 0);
    timeouts_set(50);
    ck_assert_int_eq(integ_node_start(&net, 20000), 0);
    ck_assert_int_eq(integ_connect(&net, &client), 0);
    ck_assert_int_eq(integ_transfer_tx(&net, 1, 0, 5, 1, &tx, &len), 0);
    ck_assert_int_eq(integ_submit(&client, tx, len, 1, &code, &result), 0);
    ck_assert_uint_eq(code, 0);
    tdei_free(tx);
    api_client_close(&client);
    ck_assert_int_eq(integ_node_stop(&net, SIGTERM, 20000), 0);
    (void)home_path(path, net.homes[0], "data/ledger");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cons_signed rec;
        struct cons_signed now;
        struct store *store = NULL;
        struct store_read *r = NULL;
        Tdei__Commit *commit = NULL;
        const uint8_t *val;
        size_t vlen;
        uint64_t height = 0;
        uint8_t id[32];
        uint8_t hkey[8];
        ck_assert_int_eq(integ_transfer_tx(&net, 1, 0, 5, 2 + i, &tx, &len), 0);
        crash_after(cases[i].step, tx, len, &height, id, &rec);
        tdei_free(tx);
        ck_assert_int_eq(integ_node_start(&net, 20000), 0);
        ck_assert_int_eq(integ_connect(&net, &client), 0);
        wait_height(&client, height);
        api_client_close(&client);
        ck_assert_int_eq(integ_node_stop(&net, SIGTERM, 20000), 0);
        /* The block at @height is the one built before the "crash". */
        ck_assert_msg(store_open(&store, path, &opts, errmsg) == 0, "%s",
                      errmsg);
        ck_assert_int_eq(store_read_begin(store, &r, errmsg), 0);
        ck_assert_int_eq(store_get(r, STORE_DB_BLOCK_IDS, id, 32, &val, &vlen),
                         0);
        store_u64_encode(hkey, height);
        ck_assert_mem_eq(val, hkey, 8);
        ck_assert_int_eq(store_get(r, STORE_DB_META,
                                   (const uint8_t *)NODE_META_LAST_COMMIT,
                                   strlen(NODE_META_LAST_COMMIT), &val, &vlen),
                         0);
        ck_assert_int_eq(
            codec_commit_decode(&commit, val, vlen, &limits, errmsg), 0);
        ck_assert_uint_eq(commit->height, height);
        ck_assert_uint_eq(commit->round, cases[i].round);
        ck_assert_mem_eq(commit->block_id.data, id, 32);
        ck_assert_int_eq(store_get(r, STORE_DB_META,
                                   (const uint8_t *)NODE_META_PROPOSAL,
                                   strlen(NODE_META_PROPOSAL), &val, &vlen),
                         TDEI_NOTFOUND);
        store_read_end(r);
        /* The guard is at the commit's precommit, after the crash's. */
        ck_assert_int_eq(signer_load(store, &now, errmsg), 0);
        ck_assert_uint_eq(now.height, height);
        ck_assert_uint_eq(now.round, cases[i].round);
        ck_assert_int_eq(now.step, CONS_STEP_PRECOMMIT);
        ck_assert_int_ge(guard_cmp(&now, &rec), 0);
        ck_assert_mem_eq(now.sig, commit->signatures[0]->sig.data,
                         CONS_SIG_SIZE);
        if (cases[i].reused) {
            ck_assert_mem_eq(now.sig, rec.sig, CONS_SIG_SIZE);
        }
        codec_commit_free(commit);
        store_close(store);
    }
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *suite = suite_create("ledger");
    TCase *load = tcase_create("load");
    TCase *crash = tcase_create("crash");
    TCase *resume = tcase_create("resume");

    tcase_add_checked_fixture(load, integ_setup, integ_teardown);
    tcase_set_timeout(load, 600);
    tcase_add_test(load, test_ledger_10000_transfers_exact_and_restart);
    suite_add_tcase(suite, load);
    tcase_add_checked_fixture(crash, integ_setup, integ_teardown);
    tcase_set_timeout(crash, 600);
    tcase_add_test(crash, test_ledger_survives_kill_9_under_load);
    suite_add_tcase(suite, crash);
    tcase_add_checked_fixture(resume, integ_setup, integ_teardown);
    tcase_set_timeout(resume, 300);
    tcase_add_test(resume, test_ledger_restart_resumes_from_the_signed_record);
    suite_add_tcase(suite, resume);
    return suite;
}

int main(void)
{
    return testutil_run(ledger_suite());
}
