/* The proof and audit requests (api.proto 96-111, node/node_audit.h)
 * through the real API socket of a running tdei-node (one validator,
 * blocks only when txs wait):
 *   - GetHistory pages through a member's history (prev/new heads chain,
 *     the head is the last new head) and gives an empty page and a zero
 *     head for an object no tx touched;
 *   - GetTxProofs gives each tx with its result and both RFC 6962 paths,
 *     which lead to the txs_root of its header and the last_results_root
 *     of the next, as GetHeaders gives them; GetHeaders gives commits that
 *     verify under the genesis set, the tip's from the node's own commit;
 *   - GetValidatorChanges lists the genesis set from height 1;
 *   - each bad field is refused (TDEI_BADREQUEST naming it; TDEI_NOTFOUND
 *     for blocks not committed), and the node keeps answering;
 *   - more proof requests at once than NODE_AUDIT_JOBS are answered
 *     TDEI_BUSY, the others in full. */
#include "harness.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/merkle.h"
#include "votes.h"

#include <stdio.h>
#include <string.h>

#define MEMBERS 4
#define BALANCE 1000000ull
#define TRANSFERS 3

static struct integ_net net;
static struct api_client client;
static uint64_t tip;

static void start(void)
{
    memset(&net, 0, sizeof(net));
    client.fd = -1;
    ck_assert_int_eq(integ_net_create(&net, MEMBERS, BALANCE, 10), 0);
    ck_assert_int_eq(integ_node_start(&net, 20000), 0);
    ck_assert_int_eq(integ_connect(&net, &client), 0);
    /* Member 1 pays member 2 three times, one block each. */
    for (uint64_t i = 1; i <= TRANSFERS; i++) {
        uint8_t *tx = NULL;
        size_t len = 0;
        uint32_t code = 1;
        uint32_t result = 1;
        ck_assert_int_eq(integ_transfer_tx(&net, 1, 2, 5, i, &tx, &len), 0);
        ck_assert_int_eq(integ_submit(&client, tx, len, 1, &code, &result), 0);
        ck_assert_uint_eq(code, 0);
        ck_assert_uint_eq(result, 0);
        tdei_free(tx);
    }
    /* One more block, which touches neither: it holds the results root
     * of the last transfer's block. */
    {
        uint8_t *tx = NULL;
        size_t len = 0;
        uint32_t code = 1;
        uint32_t result = 1;
        ck_assert_int_eq(integ_transfer_tx(&net, 0, 3, 5, 1, &tx, &len), 0);
        ck_assert_int_eq(integ_submit(&client, tx, len, 1, &code, &result), 0);
        ck_assert_uint_eq(code, 0);
        tdei_free(tx);
    }
    ck_assert_int_eq(integ_status(&client, &tip, (uint8_t[32]){0}), 0);
}

static void stop(void)
{
    api_client_close(&client);
    integ_net_destroy(&net);
}

/* Send @req; return the answer (never NULL). */
static Tdei__Api__Response *call(Tdei__Api__Request *req)
{
    Tdei__Api__Response *resp = NULL;
    char errmsg[TDEI_ERRMSG_SIZE] = "";

    req->id = 0;
    ck_assert_msg(api_client_call(&client, req, &resp, errmsg) == 0, "%s",
                  errmsg);
    return resp;
}

/* Expect @req to be refused with @code and a message holding @text. */
static void refused(Tdei__Api__Request *req, int code, const char *text)
{
    Tdei__Api__Response *resp = call(req);

    ck_assert_msg((int)resp->code == code, "wanted %s, got %s: %s",
                  tdei_errname(code), tdei_errname((int)resp->code),
                  resp->error);
    ck_assert_msg(strstr(resp->error, text) != NULL, "'%s' not in: %s", text,
                  resp->error);
    api_client_response_free(resp);
    /* The node goes on. */
    ck_assert_int_eq(integ_status(&client, &(uint64_t){0}, (uint8_t[32]){0}),
                     0);
}

static Tdei__Api__Response *history(const uint8_t *key, size_t klen,
                                    uint64_t from_height, uint32_t from_index,
                                    uint32_t limit)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetHistory get = TDEI__API__GET_HISTORY__INIT;

    get.object.data = (uint8_t *)(uintptr_t)key;
    get.object.len = klen;
    get.from_height = from_height;
    get.from_index = from_index;
    get.limit = limit;
    req.req_case = TDEI__API__REQUEST__REQ_GET_HISTORY;
    req.get_history = &get;
    return call(&req);
}

START_TEST(test_history_pages)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_member(key, net.ids[1]);
    uint8_t prev[32] = {0};
    uint64_t from_height = 0;
    uint32_t from_index = 0;
    size_t seen = 0;
    Tdei__Api__Response *resp;

    /* One event a page: each page says more until the last. */
    for (int page = 0; page < TRANSFERS + 1; page++) {
        const Tdei__Api__History *h;
        resp = history(key, klen, from_height, from_index, 1);
        ck_assert_uint_eq(resp->code, 0);
        h = resp->history;
        ck_assert_uint_eq(h->height, tip);
        ck_assert_uint_eq(h->head.len, 32);
        if (page == TRANSFERS) {
            ck_assert_uint_eq(h->n_events, 0);
            ck_assert_int_eq(h->more, 0);
            ck_assert_mem_eq(h->head.data, prev, 32);
            api_client_response_free(resp);
            break;
        }
        ck_assert_uint_eq(h->n_events, 1);
        ck_assert_int_eq(h->more, page + 1 < TRANSFERS);
        ck_assert_mem_eq(h->events[0]->prev_head.data, prev, 32);
        memcpy(prev, h->events[0]->new_head.data, 32);
        from_height = h->events[0]->height;
        from_index = h->events[0]->index + 1;
        seen++;
        api_client_response_free(resp);
    }
    ck_assert_uint_eq(seen, TRANSFERS);
    /* All at once. */
    resp = history(key, klen, 0, 0, 1000);
    ck_assert_uint_eq(resp->history->n_events, TRANSFERS);
    ck_assert_int_eq(resp->history->more, 0);
    ck_assert_mem_eq(resp->history->head.data, prev, 32);
    api_client_response_free(resp);
    /* An object nobody touched. */
    resp = history((const uint8_t *)"dataset/nothing-here", 20, 0, 0, 10);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->history->n_events, 0);
    ck_assert_mem_eq(resp->history->head.data, (uint8_t[32]){0}, 32);
    api_client_response_free(resp);
}
END_TEST

START_TEST(test_history_refusals)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetHistory get = TDEI__API__GET_HISTORY__INIT;
    uint8_t big[129];

    memset(big, 'a', sizeof(big));
    req.req_case = TDEI__API__REQUEST__REQ_GET_HISTORY;
    req.get_history = &get;
    get.limit = 10;
    refused(&req, TDEI_BADREQUEST, "object must be a state key of 1-128");
    get.object.data = big;
    get.object.len = sizeof(big);
    refused(&req, TDEI_BADREQUEST, "not 129 bytes");
    get.object.len = 11;
    get.limit = 0;
    refused(&req, TDEI_BADREQUEST, "limit 0 is outside 1-1000");
    get.limit = 1001;
    refused(&req, TDEI_BADREQUEST, "limit 1001 is outside 1-1000");
}
END_TEST

static Tdei__Api__Response *headers(const uint64_t *heights, size_t n)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetHeaders get = TDEI__API__GET_HEADERS__INIT;

    get.heights = (uint64_t *)(uintptr_t)heights;
    get.n_heights = n;
    req.req_case = TDEI__API__REQUEST__REQ_GET_HEADERS;
    req.get_headers = &get;
    return call(&req);
}

START_TEST(test_proofs_lead_to_the_headers)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t klen = contract_key_member(key, net.ids[2]);
    Tdei__Api__Response *hist = history(key, klen, 0, 0, 100);
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTxProofs get = TDEI__API__GET_TX_PROOFS__INIT;
    Tdei__Api__TxRef refs[TRANSFERS];
    Tdei__Api__TxRef *ptrs[TRANSFERS];
    Tdei__Api__Response *resp;

    ck_assert_uint_eq(hist->history->n_events, TRANSFERS);
    for (size_t i = 0; i < TRANSFERS; i++) {
        tdei__api__tx_ref__init(&refs[i]);
        refs[i].height = hist->history->events[i]->height;
        refs[i].index = hist->history->events[i]->index;
        ptrs[i] = &refs[i];
    }
    get.txs = ptrs;
    get.n_txs = TRANSFERS;
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX_PROOFS;
    req.get_tx_proofs = &get;
    resp = call(&req);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->tx_proofs->n_proofs, TRANSFERS);
    for (size_t i = 0; i < TRANSFERS; i++) {
        const Tdei__Api__TxProof *p = resp->tx_proofs->proofs[i];
        uint64_t hs[2] = {p->height, p->height + 1};
        Tdei__Api__Response *hr = headers(hs, 2);
        Tdei__Header *a = NULL;
        Tdei__Header *b = NULL;
        uint8_t leaf[32];
        uint8_t path[64][32];
        char errmsg[TDEI_ERRMSG_SIZE];
        ck_assert_uint_eq(hr->code, 0);
        ck_assert_uint_eq(hr->headers->n_headers, 2);
        ck_assert_int_eq(
            codec_header_decode(&a, hr->headers->headers[0]->header.data,
                                hr->headers->headers[0]->header.len, errmsg),
            0);
        ck_assert_int_eq(
            codec_header_decode(&b, hr->headers->headers[1]->header.data,
                                hr->headers->headers[1]->header.len, errmsg),
            0);
        ck_assert_uint_eq(p->tx_count, 1); /* one transfer a block */
        merkle_leaf_hash(leaf, p->tx.data, p->tx.len);
        for (size_t k = 0; k < p->n_tx_path; k++) {
            memcpy(path[k], p->tx_path[k].data, 32);
        }
        ck_assert_int_eq(merkle_inclusion_verify(leaf, p->index, p->tx_count,
                                                 (const uint8_t(*)[32])path,
                                                 p->n_tx_path,
                                                 a->txs_root.data),
                         0);
        merkle_leaf_hash(leaf, p->result.data, p->result.len);
        for (size_t k = 0; k < p->n_result_path; k++) {
            memcpy(path[k], p->result_path[k].data, 32);
        }
        ck_assert_int_eq(merkle_inclusion_verify(leaf, p->index, p->tx_count,
                                                 (const uint8_t(*)[32])path,
                                                 p->n_result_path,
                                                 b->last_results_root.data),
                         0);
        /* The result is not the next block's results root's leaf. */
        ck_assert_int_ne(merkle_inclusion_verify(leaf, p->index, p->tx_count,
                                                 (const uint8_t(*)[32])path,
                                                 p->n_result_path,
                                                 a->last_results_root.data),
                         0);
        codec_header_free(a);
        codec_header_free(b);
        api_client_response_free(hr);
    }
    api_client_response_free(resp);
    api_client_response_free(hist);
}
END_TEST

START_TEST(test_headers_carry_commits)
{
    uint64_t hs[] = {1, tip - 1, tip};
    Tdei__Api__Response *resp = headers(hs, 3);
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    struct cons_vset vset = {.n = 1};
    char errmsg[TDEI_ERRMSG_SIZE];

    /* Member 0 is the only validator: the proposer of every block. */
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->headers->n_headers, 3);
    ck_assert_uint_eq(resp->headers->height, tip);
    for (size_t i = 0; i < 3; i++) {
        const Tdei__Api__HeaderCommit *hc = resp->headers->headers[i];
        Tdei__Commit *commit = NULL;
        Tdei__Header *h = NULL;
        uint8_t id[32];
        ck_assert_uint_eq(hc->height, hs[i]);
        ck_assert_int_eq(
            codec_header_decode(&h, hc->header.data, hc->header.len, errmsg),
            0);
        ck_assert_uint_gt(hc->commit.len, 0);
        ck_assert_int_eq(codec_commit_decode(&commit, hc->commit.data,
                                             hc->commit.len, &limits, errmsg),
                         0);
        codec_block_id(id, hc->header.data, hc->header.len);
        ck_assert_mem_eq(commit->block_id.data, id, 32);
        ck_assert_uint_eq(commit->height, hs[i]);
        memcpy(vset.keys[0], h->proposer.data, 32);
        ck_assert_msg(
            votes_commit_verify(commit, net.chain_id, &vset, errmsg) == 0, "%s",
            errmsg);
        codec_commit_free(commit);
        codec_header_free(h);
    }
    api_client_response_free(resp);
}
END_TEST

START_TEST(test_proof_refusals)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTxProofs get = TDEI__API__GET_TX_PROOFS__INIT;
    Tdei__Api__TxRef refs[257];
    Tdei__Api__TxRef *ptrs[257];

    for (size_t i = 0; i < 257; i++) {
        tdei__api__tx_ref__init(&refs[i]);
        refs[i].height = 1;
        ptrs[i] = &refs[i];
    }
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX_PROOFS;
    req.get_tx_proofs = &get;
    get.txs = ptrs;
    get.n_txs = 0;
    refused(&req, TDEI_BADREQUEST, "txs has 0 entries; ask for 1-256");
    get.n_txs = 257;
    refused(&req, TDEI_BADREQUEST, "txs has 257 entries");
    get.n_txs = 2;
    refs[1].height = 0;
    refused(&req, TDEI_BADREQUEST, "txs[1] has height 0");
    refs[1].height = 1;
    refs[1].index = 5;
    refused(&req, TDEI_NOTFOUND,
            "block 1 has 1 txs; there is no tx at "
            "index 5");
    refs[1].index = 0;
    refs[1].height = tip;
    refused(&req, TDEI_NOTFOUND, "is in header");
    refs[1].height = tip + 100;
    refused(&req, TDEI_NOTFOUND, "is not committed");
}
END_TEST

START_TEST(test_header_refusals)
{
    uint64_t hs[257];

    for (size_t i = 0; i < 257; i++) {
        hs[i] = 1;
    }
    {
        Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
        Tdei__Api__GetHeaders get = TDEI__API__GET_HEADERS__INIT;
        req.req_case = TDEI__API__REQUEST__REQ_GET_HEADERS;
        req.get_headers = &get;
        get.heights = hs;
        refused(&req, TDEI_BADREQUEST, "heights has 0 entries");
        get.n_heights = 257;
        refused(&req, TDEI_BADREQUEST, "heights has 257 entries");
        get.n_heights = 2;
        hs[1] = 0;
        refused(&req, TDEI_BADREQUEST, "heights[1] is 0");
        hs[1] = tip + 1;
        refused(&req, TDEI_NOTFOUND, "the chain is at height");
    }
}
END_TEST

START_TEST(test_validator_changes)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetValidatorChanges get = TDEI__API__GET_VALIDATOR_CHANGES__INIT;
    struct codec_limits limits = CODEC_LIMITS_DEFAULT;
    Tdei__ValidatorSet *set = NULL;
    Tdei__Api__Response *resp;
    char errmsg[TDEI_ERRMSG_SIZE];

    req.req_case = TDEI__API__REQUEST__REQ_GET_VALIDATOR_CHANGES;
    req.get_validator_changes = &get;
    get.limit = 10;
    resp = call(&req);
    ck_assert_uint_eq(resp->code, 0);
    ck_assert_uint_eq(resp->validator_changes->n_changes, 1);
    ck_assert_int_eq(resp->validator_changes->more, 0);
    ck_assert_uint_eq(resp->validator_changes->changes[0]->from_height, 1);
    ck_assert_int_eq(codec_validator_set_decode(
                         &set, resp->validator_changes->changes[0]->set.data,
                         resp->validator_changes->changes[0]->set.len, &limits,
                         errmsg),
                     0);
    ck_assert_uint_eq(set->n_validators, 1);
    ck_assert_str_eq(set->validators[0]->member, net.ids[0]);
    codec_validator_set_free(set);
    api_client_response_free(resp);
    get.after = 1;
    resp = call(&req);
    ck_assert_uint_eq(resp->validator_changes->n_changes, 0);
    api_client_response_free(resp);
    get.limit = 0;
    refused(&req, TDEI_BADREQUEST, "limit 0 is outside 1-100");
    get.limit = 101;
    refused(&req, TDEI_BADREQUEST, "limit 101 is outside 1-100");
}
END_TEST

START_TEST(test_busy_when_too_many_at_once)
{
    Tdei__Api__Request req = TDEI__API__REQUEST__INIT;
    Tdei__Api__GetTxProofs get = TDEI__API__GET_TX_PROOFS__INIT;
    Tdei__Api__TxRef refs[256];
    Tdei__Api__TxRef *ptrs[256];
    uint8_t *frames = NULL;
    size_t total = 0;
    size_t busy = 0;
    size_t done = 0;
    char errmsg[TDEI_ERRMSG_SIZE];

    for (size_t i = 0; i < 256; i++) {
        tdei__api__tx_ref__init(&refs[i]);
        refs[i].height = 1 + i % (tip - 1);
        ptrs[i] = &refs[i];
    }
    get.txs = ptrs;
    get.n_txs = 256;
    req.req_case = TDEI__API__REQUEST__REQ_GET_TX_PROOFS;
    req.get_tx_proofs = &get;
    /* Six requests in one write: the node reads them in one go, before any
     * worker is done. */
    for (int k = 0; k < 6; k++) {
        size_t n;
        uint8_t *grown;
        req.id = (uint64_t)k + 1000;
        n = tdei__api__request__get_packed_size(&req);
        grown = tdei_realloc(frames, total + 4 + n);
        ck_assert_ptr_nonnull(grown);
        frames = grown;
        frames[total] = (uint8_t)(n >> 24);
        frames[total + 1] = (uint8_t)(n >> 16);
        frames[total + 2] = (uint8_t)(n >> 8);
        frames[total + 3] = (uint8_t)n;
        (void)tdei__api__request__pack(&req, frames + total + 4);
        total += 4 + n;
    }
    ck_assert_int_eq(api_client_send_raw(&client, frames, total, errmsg), 0);
    tdei_free(frames);
    for (int k = 0; k < 6; k++) {
        Tdei__Api__Response *resp = NULL;
        ck_assert_int_eq(api_client_recv(&client, &resp, errmsg), 0);
        if (resp->code == TDEI_BUSY) {
            ck_assert_ptr_nonnull(strstr(resp->error, "ask again shortly"));
            busy++;
        } else {
            ck_assert_uint_eq(resp->code, 0);
            ck_assert_uint_eq(resp->tx_proofs->n_proofs, 256);
            done++;
        }
        api_client_response_free(resp);
    }
    ck_assert_uint_ge(busy, 1);
    ck_assert_uint_ge(done, 1);
    ck_assert_uint_le(done, 2 + 4); /* every answer came */
}
END_TEST

static Suite *audit_api_suite(void)
{
    Suite *s = suite_create("audit_api");
    TCase *tc = tcase_create("audit_api");

    tcase_add_unchecked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_history_pages);
    tcase_add_test(tc, test_history_refusals);
    tcase_add_test(tc, test_proofs_lead_to_the_headers);
    tcase_add_test(tc, test_headers_carry_commits);
    tcase_add_test(tc, test_proof_refusals);
    tcase_add_test(tc, test_header_refusals);
    tcase_add_test(tc, test_validator_changes);
    tcase_add_test(tc, test_busy_when_too_many_at_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return testutil_run(audit_api_suite()); }
