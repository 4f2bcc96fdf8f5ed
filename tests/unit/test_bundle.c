/* Tests of audit bundles (node/audit/bundle.h) on a synthetic chain
 * (bundle_fixture.h) of 4 validators, one of them replaced from height 4,
 * whose entry has 24 events (publish and reprices, some refused, some
 * signed by a key genesis does not name) among other txs:
 *   - the canonical text round-trips and verifies, with the timeline;
 *   - each check of bundle_verify refuses on its own: chain id, object
 *     key, order, tx signature, each field of both proofs, tree sizes,
 *     history gaps (first, middle and last event removed, events
 *     swapped), head, as_of, headers (chain, link, time, commit for
 *     another block, flipped commit signature, fewer than the quorum, an
 *     outsider's vote, the old set after the change), validator sets (a
 *     change missing, forged, or without its announcing header, another
 *     genesis set);
 *   - the decoder refuses what is not a bundle: not JSON, unknown and
 *     missing fields, another version, non-canonical text, bad hex, bad
 *     numbers, bounds;
 *   - single bytes flipped at sampled positions of every section fail. */
#include "testutil.h"

#include "audit/bundle.h"
#include "bundle_fixture.h"
#include "core/alloc.h"
#include "core/codec.h"
#include "core/error.h"
#include "core/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct bfx fx;
static unsigned verify_threads = 1; /* the threads the checks use */
static char errmsg[TDEI_ERRMSG_SIZE];

static const struct bfx_opts opts = {
    .validators = 4,
    .events = 24,
    .events_per_block = 4,
    .others_per_block = 3,
    .change_from = 4,
    .refuse_every = 5,
    .other_signs_every = 4,
};

static void setup(void)
{
    testutil_leak_setup();
    ck_assert_int_eq(bfx_build(&fx, &opts), 0);
    errmsg[0] = '\0';
}

static void teardown(void)
{
    bfx_free(&fx);
    testutil_leak_teardown();
}

/* bundle_verify's code on the fixture's bundle. */
static int verify(void)
{
    struct bundle_report rep;
    int rc =
        bundle_verify(&fx.bundle, &fx.genesis, verify_threads, &rep, errmsg);

    bundle_report_free(&rep);
    return rc;
}

/* Expect bundle_verify to fail with @code and a message holding @text. */
static void expect_fail(int code, const char *text)
{
    int rc = verify();

    ck_assert_msg(rc == code, "wanted %s, got %s: %s", tdei_errname(code),
                  tdei_errname(rc), errmsg);
    ck_assert_msg(strstr(errmsg, text) != NULL, "'%s' not in: %s", text,
                  errmsg);
}

/* Encode the fixture's bundle, let the caller change the text, decode. */
static int decode_text(const char *text, size_t len)
{
    struct bundle b;
    int rc = bundle_decode(&b, text, len, errmsg);

    if (rc == 0) {
        bundle_free(&b);
    }
    return rc;
}

static char *encoded(size_t *len)
{
    char *text = NULL;

    ck_assert_int_eq(bundle_encode(&fx.bundle, &text, len), 0);
    return text;
}

/* Replace the first @from in @text (NUL-terminated) by @to; the result
 * is new memory. */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t head;
    char *out;

    ck_assert_ptr_nonnull(at);
    head = (size_t)(at - text);
    out = tdei_malloc(strlen(text) - strlen(from) + strlen(to) + 1);
    ck_assert_ptr_nonnull(out);
    memcpy(out, text, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

static void expect_decode_fail(const char *text, int code, const char *what)
{
    int rc = decode_text(text, strlen(text));

    ck_assert_msg(rc == code, "wanted %s, got %s: %s", tdei_errname(code),
                  tdei_errname(rc), errmsg);
    ck_assert_msg(strstr(errmsg, what) != NULL, "'%s' not in: %s", what,
                  errmsg);
}

/* ---- round trip and timeline ------------------------------------------- */

START_TEST(test_bundle_round_trip_verifies)
{
    struct bundle b;
    struct bundle_report rep;
    size_t len;
    size_t len2;
    char *text = encoded(&len);
    char *again = NULL;

    ck_assert_int_eq(bundle_decode(&b, text, len, errmsg), 0);
    ck_assert_int_eq(bundle_encode(&b, &again, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(text, again, len);
    ck_assert_int_eq(bundle_verify(&b, &fx.genesis, 4, &rep, errmsg), 0);
    ck_assert_uint_eq(rep.row_count, opts.events);
    ck_assert_uint_eq(rep.changes, 1);
    ck_assert_uint_eq(rep.tx_signatures, opts.events);
    ck_assert_uint_eq(rep.proofs, 2 * opts.events);
    ck_assert_uint_eq(rep.headers_verified, b.header_count);
    /* The publish first, at height 1 after one other tx. */
    ck_assert_str_eq(rep.rows[0].action, "catalog_publish");
    ck_assert_uint_eq(rep.rows[0].height, 1);
    ck_assert_uint_eq(rep.rows[0].index, 1);
    ck_assert_int_eq(rep.rows[0].has_price, 1);
    ck_assert_uint_eq(rep.rows[0].price, 100);
    ck_assert_str_eq(rep.rows[0].member, BFX_OWNER);
    ck_assert_int_eq(rep.rows[0].member_source, BUNDLE_MEMBER_EVENT);
    ck_assert_uint_eq(rep.rows[0].time_ms, 1700000000000ull + 1000u);
    /* Event 5 is refused, by the owner's genesis key. */
    ck_assert_str_eq(rep.rows[5].action, "catalog_reprice");
    ck_assert_uint_eq(rep.rows[5].code, TDEI_PRICE_MISMATCH);
    ck_assert_ptr_nonnull(rep.rows[5].log);
    ck_assert_str_eq(rep.rows[5].member, BFX_OWNER);
    ck_assert_int_eq(rep.rows[5].member_source, BUNDLE_MEMBER_GENESIS);
    /* Event 4 is signed by a key genesis does not name; its event names
     * the member. Event 20 is refused and by that key: named by the same
     * key's other events. */
    ck_assert_str_eq(rep.rows[4].member, BFX_OTHER);
    ck_assert_int_eq(rep.rows[4].member_source, BUNDLE_MEMBER_EVENT);
    ck_assert_uint_eq(rep.rows[20].code, TDEI_PRICE_MISMATCH);
    ck_assert_str_eq(rep.rows[20].member, BFX_OTHER);
    ck_assert_int_eq(rep.rows[20].member_source, BUNDLE_MEMBER_SAME_KEY);
    bundle_report_free(&rep);
    bundle_free(&b);
    tdei_free(text);
    tdei_free(again);
}
END_TEST

START_TEST(test_bundle_text_layout)
{
    size_t len;
    char *text = encoded(&len);

    static const char head[] =
        "{\n \"tdei_bundle\": 1,\n \"chain_id\": \"bfx-chain\",\n "
        "\"object\": {\"kind\": \"dataset\", \"id\": \"bfx-data\", \"key\": "
        "\"646174617365742f6266782d64617461\"},\n \"as_of\": {\"height\": 7, "
        "\"head\": \"";

    ck_assert_int_eq(strncmp(text, head, sizeof(head) - 1), 0);
    ck_assert_ptr_nonnull(strstr(text, "\"tx_proof\": {\"type\": "
                                       "\"inclusion\", \"leaf_hash\": \""));
    ck_assert_int_eq(text[len - 1], '\n');
    tdei_free(text);
}
END_TEST

START_TEST(test_bundle_object_keys)
{
    uint8_t key[CODEC_OBJECT_KEY_MAX];
    char id[80];
    size_t len;
    enum bundle_kind kind;

    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_MEMBER, "acme", key, &len, errmsg), 0);
    ck_assert_uint_eq(len, 11);
    ck_assert_mem_eq(key, "member/acme", 11);
    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_STREAM, "s-1x", key, &len, errmsg), 0);
    ck_assert_mem_eq(key, "dataset/s-1x", 12);
    memset(id, 'a', 64);
    id[64] = '\0';
    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_EXCHANGE, id, key, &len, errmsg), 0);
    ck_assert_uint_eq(len, 9 + 32);
    ck_assert_uint_eq(key[9], 0xaa);
    /* Refusals: upper-case hex, short hex, bad ids. */
    id[3] = 'A';
    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_EXCHANGE, id, key, &len, errmsg),
        TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "64 lower-case hex digits"));
    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_EXCHANGE, "abcd", key, &len, errmsg),
        TDEI_INVAL);
    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_MEMBER, "Acme", key, &len, errmsg),
        TDEI_INVAL);
    ck_assert_int_eq(
        bundle_object_key(BUNDLE_KIND_DATASET, "x", key, &len, errmsg),
        TDEI_INVAL);
    ck_assert_int_eq(bundle_kind_parse("stream", &kind), 0);
    ck_assert_int_eq(kind, BUNDLE_KIND_STREAM);
    ck_assert_int_eq(bundle_kind_parse("block", &kind), TDEI_INVAL);
    ck_assert_str_eq(bundle_kind_name(BUNDLE_KIND_EXCHANGE), "exchange");
}
END_TEST

/* ---- each check on its own --------------------------------------------- */

START_TEST(test_bundle_refuses_other_chain)
{
    (void)snprintf(fx.genesis.chain_id, sizeof(fx.genesis.chain_id), "other");
    expect_fail(TDEI_CHAIN_ID, "genesis.json is for chain other");
}
END_TEST

START_TEST(test_bundle_refuses_object_key)
{
    fx.bundle.key[fx.bundle.key_len - 1] ^= 1;
    expect_fail(TDEI_MALFORMED, "key is not the state key of dataset");
}
END_TEST

START_TEST(test_bundle_refuses_tx_signature)
{
    bfx_free(&fx);
    struct bfx_opts o = opts;
    o.bad_sig_event = 7;
    ck_assert_int_eq(bfx_build(&fx, &o), 0);
    expect_fail(TDEI_BADSIG, "events[6]");
    ck_assert_ptr_nonnull(strstr(errmsg, "tx signature does not verify"));
}
END_TEST

START_TEST(test_bundle_refuses_tx_proof_fields)
{
    struct bundle_event *e = &fx.bundle.events[9];

    e->tx_proof.path[0][5] ^= 0x40;
    expect_fail(TDEI_BADPROOF, "tx_proof: the audit path does not lead");
    e->tx_proof.path[0][5] ^= 0x40;
    ck_assert_int_eq(verify(), 0);
    e->tx_proof.leaf_hash[0] ^= 1;
    expect_fail(TDEI_BADPROOF, "tx_proof: leaf_hash is not");
    e->tx_proof.leaf_hash[0] ^= 1;
    e->tx_proof.root[31] ^= 1;
    expect_fail(TDEI_BADPROOF, "tx_proof: root is not the header's root");
    e->tx_proof.root[31] ^= 1;
    e->tx_proof.leaf_index++;
    expect_fail(TDEI_BADPROOF, "tx_proof: leaf_index is not the event's");
    e->tx_proof.leaf_index--;
    e->tx_proof.tree_size++;
    expect_fail(TDEI_BADPROOF, "events[9]");
    e->tx_proof.tree_size--;
    ck_assert_int_eq(verify(), 0);
}
END_TEST

START_TEST(test_bundle_refuses_result_proof_fields)
{
    struct bundle_event *e = &fx.bundle.events[10];

    e->result_proof.path[1][0] ^= 1;
    expect_fail(TDEI_BADPROOF, "result_proof: the audit path");
    e->result_proof.path[1][0] ^= 1;
    e->result[e->result_len - 1] ^= 1;
    expect_fail(TDEI_BADPROOF, "result_proof: leaf_hash is not");
    e->result[e->result_len - 1] ^= 1;
    e->result_proof.root[0] ^= 1;
    expect_fail(TDEI_BADPROOF, "result_proof: root is not");
    e->result_proof.root[0] ^= 1;
    ck_assert_int_eq(verify(), 0);
}
END_TEST

START_TEST(test_bundle_refuses_tree_sizes_that_differ)
{
    /* Leaf 1 of a tree of 7 or of 8 leaves has the same path: the tree
     * size is bound by the other proof of the event. */
    struct bundle_event *e = NULL;

    for (size_t i = 0; i < fx.bundle.event_count && e == NULL; i++) {
        if (fx.bundle.events[i].index == 1 &&
            fx.bundle.events[i].tx_proof.tree_size == 7) {
            e = &fx.bundle.events[i];
        }
    }
    ck_assert_ptr_nonnull(e);
    e->tx_proof.tree_size = 8;
    ck_assert_int_eq(
        merkle_inclusion_verify(e->tx_proof.leaf_hash, 1, 8,
                                (const uint8_t(*)[32])e->tx_proof.path,
                                e->tx_proof.count, e->tx_proof.root),
        0);
    expect_fail(TDEI_BADPROOF, "a block has one result per tx");
}
END_TEST

/* Remove event @i from the fixture's bundle. */
static void event_remove(size_t i)
{
    struct bundle_event *e = &fx.bundle.events[i];

    tdei_free(e->tx);
    tdei_free(e->result);
    tdei_free(e->tx_proof.path);
    tdei_free(e->result_proof.path);
    memmove(e, e + 1, (fx.bundle.event_count - i - 1) * sizeof(*e));
    fx.bundle.event_count--;
}

START_TEST(test_bundle_refuses_history_gaps)
{
    event_remove(11);
    expect_fail(TDEI_BADPROOF, "events[11]");
    ck_assert_ptr_nonnull(strstr(errmsg, "the history has a gap"));
}
END_TEST

START_TEST(test_bundle_refuses_missing_creation)
{
    event_remove(0);
    expect_fail(TDEI_BADPROOF, "32 zero bytes: the object's creation");
}
END_TEST

START_TEST(test_bundle_refuses_missing_last_event)
{
    event_remove(fx.bundle.event_count - 1);
    expect_fail(TDEI_BADPROOF, "as_of: head is not the head after the last");
}
END_TEST

START_TEST(test_bundle_refuses_reordered_events)
{
    struct bundle_event t = fx.bundle.events[6];

    /* Two events swapped, each with its own height and index: the chain
     * breaks at the first. */
    fx.bundle.events[6] = fx.bundle.events[7];
    fx.bundle.events[7] = t;
    expect_fail(TDEI_BADPROOF, "events[6]");
    ck_assert_ptr_nonnull(strstr(errmsg, "gap or is out of order"));
    t = fx.bundle.events[6];
    fx.bundle.events[6] = fx.bundle.events[7];
    fx.bundle.events[7] = t;
    ck_assert_int_eq(verify(), 0);
    /* Their places swapped, not their contents: the proofs say where
     * each tx is. */
    {
        uint64_t h = fx.bundle.events[6].height;
        uint32_t x = fx.bundle.events[6].index;
        fx.bundle.events[6].height = fx.bundle.events[7].height;
        fx.bundle.events[6].index = fx.bundle.events[7].index;
        fx.bundle.events[7].height = h;
        fx.bundle.events[7].index = x;
    }
    expect_fail(TDEI_BADPROOF, "events[6]");
    ck_assert_ptr_nonnull(strstr(errmsg, "leaf_index is not the event's"));
}
END_TEST

START_TEST(test_bundle_refuses_unordered_events)
{
    fx.bundle.events[7].index = fx.bundle.events[6].index;
    expect_fail(TDEI_BADPROOF, "events[7]");
    ck_assert_ptr_nonnull(strstr(errmsg, "events must be in block order"));
}
END_TEST

START_TEST(test_bundle_refuses_head_and_as_of)
{
    fx.bundle.head[3] ^= 1;
    expect_fail(TDEI_BADPROOF, "as_of: head is not the head");
    fx.bundle.head[3] ^= 1;
    fx.bundle.as_of++;
    expect_fail(TDEI_BADPROOF, "is not the highest header of the bundle");
    /* Another header of the bundle (the last event's own) would be one
     * byte away: only the highest counts. */
    fx.bundle.as_of = fx.bundle.events[fx.bundle.event_count - 1].height;
    expect_fail(TDEI_BADPROOF, "is not the highest header of the bundle");
    /* The highest header must be above the last event. */
    fx.bundle.as_of = fx.bundle.headers[fx.bundle.header_count - 1].height;
    ck_assert_int_eq(verify(), 0);
}
END_TEST

START_TEST(test_bundle_refuses_missing_headers)
{
    struct bundle_header h = fx.bundle.headers[2];

    /* Dropping header 3 (the txs root of events of height 3 and the
     * announcer of the change) is named. */
    memmove(&fx.bundle.headers[2], &fx.bundle.headers[3],
            (fx.bundle.header_count - 3) * sizeof(h));
    fx.bundle.header_count--;
    expect_fail(TDEI_BADPROOF, "header 3, which announces it, is not in the "
                               "bundle");
    fx.bundle.headers[fx.bundle.header_count++] = h; /* freed by teardown */
}
END_TEST

START_TEST(test_bundle_refuses_unordered_headers)
{
    struct bundle_header t = fx.bundle.headers[1];

    fx.bundle.headers[1] = fx.bundle.headers[2];
    fx.bundle.headers[2] = t;
    expect_fail(TDEI_MALFORMED, "is not above the previous header's");
}
END_TEST

START_TEST(test_bundle_refuses_commit_for_another_block)
{
    struct bundle_header *a = &fx.bundle.headers[1];
    struct bundle_header *b = &fx.bundle.headers[2];
    uint8_t *c = a->commit;
    size_t n = a->commit_len;

    a->commit = b->commit;
    a->commit_len = b->commit_len;
    b->commit = c;
    b->commit_len = n;
    expect_fail(TDEI_BADPROOF, "the commit is for block");
}
END_TEST

START_TEST(test_bundle_refuses_flipped_commit_signature)
{
    struct bundle_header *h = &fx.bundle.headers[4];

    /* The last bytes of a commit are its last signature. */
    h->commit[h->commit_len - 1] ^= 1;
    expect_fail(TDEI_BADSIG, "headers[4]");
}
END_TEST

/* Replace the commit of header @j by one of the @n validators @keys. */
static void commit_by(size_t j, const struct tdei_keypair *const *keys,
                      size_t n);
static void commit_by_keys(size_t j, const struct tdei_keypair **keys, size_t n)
{
    commit_by(j, keys, n);
}

static void commit_by(size_t j, const struct tdei_keypair *const *keys,
                      size_t n)
{
    struct bundle_header *h = &fx.bundle.headers[j];
    uint8_t id[32];

    codec_block_id(id, h->header, h->header_len);
    tdei_free(h->commit);
    h->commit = NULL;
    ck_assert_int_eq(bfx_commit(&h->commit, &h->commit_len, BFX_CHAIN,
                                h->height, id, keys, n),
                     0);
}

START_TEST(test_bundle_refuses_commit_below_quorum)
{
    const struct tdei_keypair *set[BFX_VALIDATORS_MAX + 1];
    size_t n = bfx_set(&fx, fx.bundle.headers[1].height, set);

    ck_assert_uint_eq(n, 4);
    commit_by(1, set, 3); /* 3 of 4: a quorum */
    ck_assert_int_eq(verify(), 0);
    commit_by(1, set, 2); /* 2 of 4: none */
    expect_fail(TDEI_NO_QUORUM, "headers[1]");
}
END_TEST

START_TEST(test_bundle_refuses_outsider_and_old_set)
{
    const struct tdei_keypair *set[BFX_VALIDATORS_MAX + 1];
    const struct tdei_keypair *old[BFX_VALIDATORS_MAX + 1];
    size_t j = 0;

    /* A header at or after the change: the old set's validator 0 is no
     * longer a voter. */
    while (fx.bundle.headers[j].height < opts.change_from) {
        j++;
    }
    size_t n = bfx_set(&fx, fx.bundle.headers[j].height, set);
    size_t m = bfx_set(&fx, 1, old);
    (void)n;
    commit_by(j, old, m);
    expect_fail(TDEI_NOT_VOTER, "headers[");
}
END_TEST

static void edit_link(Tdei__Header *h, void *arg)
{
    (void)arg;
    h->last_block_id.data[0] ^= 1;
}

static void edit_time(Tdei__Header *h, void *arg)
{
    h->time_ms = *(uint64_t *)arg;
}

static void edit_validators(Tdei__Header *h, void *arg)
{
    (void)arg;
    h->validators_hash.data[0] ^= 1;
}

static void edit_next(Tdei__Header *h, void *arg)
{
    (void)arg;
    h->next_validators_hash.data[0] ^= 1;
}

START_TEST(test_bundle_refuses_broken_header_link)
{
    ck_assert_int_eq(bfx_header_edit(&fx, 2, edit_link, NULL), 0);
    expect_fail(TDEI_BADPROOF, "the headers do not chain");
}
END_TEST

START_TEST(test_bundle_refuses_time_going_back)
{
    uint64_t t = 1700000000000ull + 1000u; /* header 1's time */

    ck_assert_int_eq(bfx_header_edit(&fx, 1, edit_time, &t), 0);
    expect_fail(TDEI_BADPROOF, "is not after the time of height 1");
}
END_TEST

START_TEST(test_bundle_refuses_wrong_validator_hashes)
{
    ck_assert_int_eq(bfx_header_edit(&fx, 1, edit_validators, NULL), 0);
    expect_fail(TDEI_BADPROOF, "a validator-set change is missing or forged");
}
END_TEST

START_TEST(test_bundle_refuses_wrong_next_validators_hash)
{
    ck_assert_int_eq(bfx_header_edit(&fx, 0, edit_next, NULL), 0);
    expect_fail(TDEI_BADPROOF, "the change it announces is missing or forged");
}
END_TEST

START_TEST(test_bundle_refuses_missing_change)
{
    fx.bundle.change_count = 0; /* the change stays allocated: freed later */
    expect_fail(TDEI_BADPROOF, "the change it announces is missing");
    fx.bundle.change_count = 1;
}
END_TEST

START_TEST(test_bundle_refuses_forged_change)
{
    struct bundle_change *c = &fx.bundle.changes[0];

    /* Keep the keys sorted: change the last one's last byte. */
    c->keys[c->count - 1][31] ^= 1;
    expect_fail(TDEI_BADPROOF, "announces is missing or forged");
    c->keys[c->count - 1][31] ^= 1;
    c->from_height++;
    expect_fail(TDEI_BADPROOF, "headers[");
    c->from_height = 1;
    expect_fail(TDEI_MALFORMED, "is not above 1");
}
END_TEST

START_TEST(test_bundle_refuses_other_genesis_set)
{
    for (size_t i = 0; i < fx.genesis.member_count; i++) {
        if (strcmp(fx.genesis.members[i].id, BFX_OWNER) == 0) {
            fx.genesis.members[i].validator = 1;
        }
    }
    expect_fail(TDEI_BADPROOF, "headers[0] (height 1): validators_hash");
}
END_TEST

START_TEST(test_bundle_refuses_event_without_its_headers)
{
    /* The last event's results root is in the tip's header. */
    fx.bundle.header_count--;
    expect_fail(TDEI_BADPROOF, "must both be in the bundle");
    fx.bundle.header_count++;
}
END_TEST

START_TEST(test_bundle_refuses_empty)
{
    size_t n = fx.bundle.event_count;

    fx.bundle.event_count = 0;
    expect_fail(TDEI_MALFORMED, "has no event");
    fx.bundle.event_count = n;
}
END_TEST

/* bundle_verify's code and message with @threads threads. */
static int verdict(unsigned threads, char *msg)
{
    struct bundle_report rep;
    int rc = bundle_verify(&fx.bundle, &fx.genesis, threads, &rep, msg);

    bundle_report_free(&rep);
    return rc;
}

START_TEST(test_bundle_threads_give_the_same_verdict)
{
    struct bfx_opts o = opts;
    char one[TDEI_ERRMSG_SIZE];
    char many[TDEI_ERRMSG_SIZE];
    const struct tdei_keypair *set[BFX_VALIDATORS_MAX + 1];

    /* Enough events and headers for the threads to share them, a bad tx
     * signature late, and a commit without quorum early: the commit is
     * named, whichever thread checked what. */
    bfx_free(&fx);
    o.events = 200;
    o.bad_sig_event = 150;
    ck_assert_int_eq(bfx_build(&fx, &o), 0);
    ck_assert_int_eq(verdict(1, one), TDEI_BADSIG);
    ck_assert_int_eq(verdict(4, many), TDEI_BADSIG);
    ck_assert_str_eq(one, many);
    ck_assert_ptr_nonnull(strstr(one, "events[149]"));
    commit_by_keys(20, set,
                   bfx_set(&fx, fx.bundle.headers[20].height, set) - 2);
    ck_assert_int_eq(verdict(1, one), TDEI_NO_QUORUM);
    ck_assert_int_eq(verdict(4, many), TDEI_NO_QUORUM);
    ck_assert_str_eq(one, many);
    ck_assert_ptr_nonnull(strstr(one, "headers[20]"));
    commit_by_keys(5, set, bfx_set(&fx, fx.bundle.headers[5].height, set) - 2);
    ck_assert_int_eq(verdict(4, many), TDEI_NO_QUORUM);
    ck_assert_ptr_nonnull(strstr(many, "headers[5]"));
}
END_TEST

/* ---- decoding ------------------------------------------------------------ */

START_TEST(test_bundle_decode_refusals)
{
    size_t len;
    char *text = encoded(&len);
    char *t;

    expect_decode_fail("[1, 2", TDEI_MALFORMED, "not JSON");
    expect_decode_fail("[]", TDEI_MALFORMED, "is not an object");
    t = replace(text, "\"tdei_bundle\": 1", "\"tdei_bundle\": 2");
    expect_decode_fail(t, TDEI_VERSION, "version 2");
    tdei_free(t);
    t = replace(text, "\"chain_id\"", "\"chain\"");
    expect_decode_fail(t, TDEI_MALFORMED, "has no \"chain_id\"");
    tdei_free(t);
    t = replace(text, "\"as_of\": {", "\"as_of\": {\"x\": 1, ");
    expect_decode_fail(t, TDEI_MALFORMED, "unknown field \"x\"");
    tdei_free(t);
    t = replace(text, "{\"height\": 1, \"header\"",
                "{\"height\": -1, "
                "\"header\"");
    expect_decode_fail(t, TDEI_MALFORMED, "headers[0]: \"height\" is -1");
    tdei_free(t);
    t = replace(text, "{\"height\": 1, \"header\"",
                "{\"height\": 1.0, "
                "\"header\"");
    expect_decode_fail(t, TDEI_MALFORMED, "\"height\" is not an integer");
    tdei_free(t);
    t = replace(text, "\"type\": \"inclusion\"", "\"type\": \"consistency\"");
    expect_decode_fail(t, TDEI_MALFORMED, "events[0].tx_proof");
    tdei_free(t);
    t = replace(text, "\"kind\": \"dataset\"", "\"kind\": \"block\"");
    expect_decode_fail(t, TDEI_MALFORMED, "\"kind\" is not dataset");
    tdei_free(t);
    t = replace(text, "\"id\": \"bfx-data\"", "\"id\": \"B\"");
    expect_decode_fail(t, TDEI_MALFORMED, "\"id\" is not a dataset id");
    tdei_free(t);
    t = replace(text, "\"tx\": \"0a", "\"tx\": \"0A");
    expect_decode_fail(t, TDEI_MALFORMED, "lower-case hex");
    tdei_free(t);
    t = replace(text, "\"tx\": \"0a", "\"tx\": \"0");
    expect_decode_fail(t, TDEI_MALFORMED, "even run");
    tdei_free(t);
    t = replace(text, "\"tree_size\": 7", "\"tree_size\": 100001");
    expect_decode_fail(t, TDEI_MALFORMED, "outside 0-100000");
    tdei_free(t);
    t = replace(text, "\"keys\": [\"", "\"keys\": [\"zz");
    expect_decode_fail(t, TDEI_MALFORMED, "\"keys\"[0] is not 64");
    tdei_free(t);
    t = replace(text, "\"keys\": [", "\"keys\": [], \"k\": [");
    expect_decode_fail(t, TDEI_MALFORMED, "validator_changes[0]");
    tdei_free(t);
    tdei_free(text);
}
END_TEST

START_TEST(test_bundle_decode_refuses_non_canonical_text)
{
    size_t len;
    char *text = encoded(&len);
    char *t;

    /* The same JSON with one more space, another key order, a trailing
     * newline more: each is refused and the byte is named. */
    t = replace(text, "\"chain_id\": \"", "\"chain_id\":  \"");
    expect_decode_fail(t, TDEI_MALFORMED,
                       "(line 3, column 14, in "
                       "\"chain_id\")");
    tdei_free(t);
    t = replace(text, "{\"kind\": \"dataset\", \"id\": \"bfx-data\",",
                "{\"id\": \"bfx-data\", \"kind\": \"dataset\",");
    expect_decode_fail(t, TDEI_MALFORMED, "not the canonical form");
    tdei_free(t);
    t = replace(text, "\n}\n", "\n}\n\n");
    expect_decode_fail(t, TDEI_MALFORMED, "in \"events\"");
    tdei_free(t);
    ck_assert_int_eq(decode_text(text, len), 0);
    tdei_free(text);
}
END_TEST

START_TEST(test_bundle_decode_refuses_duplicate_keys)
{
    size_t len;
    char *text = encoded(&len);
    char *t = replace(text, "\"chain_id\": \"bfx-chain\",",
                      "\"chain_id\": \"bfx-chain\", \"chain_id\": \"x\",");

    expect_decode_fail(t, TDEI_MALFORMED, "not JSON");
    tdei_free(t);
    tdei_free(text);
}
END_TEST

/* ---- every section, byte by byte --------------------------------------- */

START_TEST(test_bundle_flipped_bytes_fail)
{
    static const char *const sections[] = {
        "\"tdei_bundle\"",       "\"chain_id\"", "\"object\"", "\"as_of\"",
        "\"validator_changes\"", "\"headers\"",  "\"events\""};
    size_t len;
    char *text = encoded(&len);
    size_t starts[8];
    size_t tried = 0;
    size_t per[7] = {0};

    for (size_t s = 0; s < 7; s++) {
        const char *at = strstr(text, sections[s]);
        ck_assert_ptr_nonnull(at);
        starts[s] = (size_t)(at - text) - 1; /* the line's leading space */
    }
    starts[7] = len;
    /* About 90 positions per section, spread over it (all of a short
     * one), each flipped by a different mask. */
    for (size_t s = 0; s < 7; s++) {
        size_t span = starts[s + 1] - starts[s];
        size_t step = span / 90 + 1;
        for (size_t off = 0; off < span; off += step) {
            size_t pos = starts[s] + off;
            uint8_t mask = (uint8_t)(1u << (pos % 8));
            struct bundle b;
            struct bundle_report rep;
            int rc;
            text[pos] = (char)(text[pos] ^ mask);
            rc = bundle_decode(&b, text, len, errmsg);
            if (rc == 0) {
                rc = bundle_verify(&b, &fx.genesis, 1, &rep, errmsg);
                bundle_report_free(&rep);
                bundle_free(&b);
            }
            ck_assert_msg(rc != 0,
                          "byte %zu (section %s) flipped by %02x "
                          "still verifies",
                          pos, sections[s], mask);
            text[pos] = (char)(text[pos] ^ mask);
            tried++;
            per[s]++;
        }
        ck_assert_uint_gt(per[s], 0);
    }
    ck_assert_uint_ge(tried, 300);
    ck_assert_int_eq(decode_text(text, len), 0);
    tdei_free(text);
}
END_TEST

static Suite *bundle_suite(void)
{
    Suite *s = suite_create("bundle");
    struct
    {
        const char *name;
        const TTest *test;
    } tests[] = {
        {"round_trip", test_bundle_round_trip_verifies},
        {"layout", test_bundle_text_layout},
        {"object_keys", test_bundle_object_keys},
        {"other_chain", test_bundle_refuses_other_chain},
        {"object_key", test_bundle_refuses_object_key},
        {"tx_signature", test_bundle_refuses_tx_signature},
        {"tx_proof", test_bundle_refuses_tx_proof_fields},
        {"result_proof", test_bundle_refuses_result_proof_fields},
        {"tree_sizes", test_bundle_refuses_tree_sizes_that_differ},
        {"history_gap", test_bundle_refuses_history_gaps},
        {"creation", test_bundle_refuses_missing_creation},
        {"last_event", test_bundle_refuses_missing_last_event},
        {"reordered", test_bundle_refuses_reordered_events},
        {"unordered", test_bundle_refuses_unordered_events},
        {"head_as_of", test_bundle_refuses_head_and_as_of},
        {"missing_headers", test_bundle_refuses_missing_headers},
        {"unordered_headers", test_bundle_refuses_unordered_headers},
        {"commit_other_block", test_bundle_refuses_commit_for_another_block},
        {"commit_signature", test_bundle_refuses_flipped_commit_signature},
        {"quorum", test_bundle_refuses_commit_below_quorum},
        {"outsider", test_bundle_refuses_outsider_and_old_set},
        {"link", test_bundle_refuses_broken_header_link},
        {"time", test_bundle_refuses_time_going_back},
        {"validators_hash", test_bundle_refuses_wrong_validator_hashes},
        {"next_validators_hash",
         test_bundle_refuses_wrong_next_validators_hash},
        {"missing_change", test_bundle_refuses_missing_change},
        {"forged_change", test_bundle_refuses_forged_change},
        {"genesis_set", test_bundle_refuses_other_genesis_set},
        {"event_headers", test_bundle_refuses_event_without_its_headers},
        {"empty", test_bundle_refuses_empty},
        {"threads", test_bundle_threads_give_the_same_verdict},
        {"decode", test_bundle_decode_refusals},
        {"canonical", test_bundle_decode_refuses_non_canonical_text},
        {"duplicates", test_bundle_decode_refuses_duplicate_keys},
        {"flips", test_bundle_flipped_bytes_fail},
    };

    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        TCase *tc = tcase_create(tests[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, tests[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(bundle_suite()); }
