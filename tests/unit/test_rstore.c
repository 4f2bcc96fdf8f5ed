/* Tests of the stream record store (node/stream/rstore.h): the owner's
 * batches through pending, applied and refused with their counters; the
 * search for the batch holding a seq; a subscriber's owed batches and
 * records, with batches arriving out of order and the held range
 * following them; the owner's queue of records not cut yet, which a
 * stored batch empties; everything surviving a reopen; and each refusal (a
 * second opener, another format version, bad arguments). */
#include "testutil.h"

#include "core/alloc.h"
#include "core/error.h"
#include "stream/rstore.h"

#include <lmdb.h>
#include <stdio.h>
#include <string.h>

static char tmpdir[4096];
static char path[4200];
static char errmsg[TDEI_ERRMSG_SIZE];
static struct rstore *rs;

static void setup(void)
{
    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    (void)snprintf(path, sizeof(path), "%s/streams", tmpdir);
    errmsg[0] = '\0';
    ck_assert_msg(rstore_open(&rs, path, errmsg) == 0, "%s", errmsg);
}

static void teardown(void)
{
    rstore_close(rs);
    rs = NULL;
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

static void reopen(void)
{
    rstore_close(rs);
    ck_assert_msg(rstore_open(&rs, path, errmsg) == 0, "%s", errmsg);
}

/* ---- helpers ------------------------------------------------------------- */

#define RECS_MAX 8u
static uint8_t rec_bytes[RECS_MAX][40];
static ProtobufCBinaryData recs[RECS_MAX];

/* A pending batch of @count records of @stream from @seq. */
static struct rstore_batch batch_make(const char *stream, uint64_t seq,
                                      uint64_t count)
{
    struct rstore_batch b;

    memset(&b, 0, sizeof(b));
    (void)snprintf(b.stream, sizeof(b.stream), "%s", stream);
    b.seq_first = seq;
    b.count = count;
    b.first_ts = 1000 + seq;
    b.last_ts = 1000 + seq + count - 1;
    b.created_height = 7;
    b.state = RSTORE_PENDING;
    memset(b.root, (int)(0x10 + seq), sizeof(b.root));
    memset(b.key, (int)(0x80 + seq), sizeof(b.key));
    for (size_t i = 0; i < count && i < RECS_MAX; i++) {
        memset(rec_bytes[i], (int)('a' + seq + i), sizeof(rec_bytes[i]));
        recs[i].data = rec_bytes[i];
        recs[i].len = 24 + i;
    }
    return b;
}

static void batch_store(const char *stream, uint64_t seq, uint64_t count)
{
    struct rstore_batch b = batch_make(stream, seq, count);

    ck_assert_msg(rstore_batch_put(rs, &b, recs, count, errmsg) == 0, "%s",
                  errmsg);
}

static struct rstore_expect expect_make(uint8_t x, uint64_t seq, uint64_t count,
                                        uint64_t paid)
{
    struct rstore_expect e;

    memset(&e, 0, sizeof(e));
    memset(e.xid, x, sizeof(e.xid));
    (void)snprintf(e.stream, sizeof(e.stream), "press-feed");
    (void)snprintf(e.owner, sizeof(e.owner), "mfg-1");
    e.seq_first = seq;
    e.count = count;
    e.paid = paid;
    e.first_ts = 500 + seq;
    e.last_ts = 500 + seq + count;
    e.height = 40 + seq;
    memset(e.root, 0x5a, sizeof(e.root));
    return e;
}

static char plain_bytes[64][16];
static struct stream_plain plain[64];

/* Store the records of owed batch @e (its paid records). */
static void records_store(const struct rstore_expect *e)
{
    ck_assert_uint_le(e->paid, 64);
    for (uint64_t i = 0; i < e->paid; i++) {
        int len = snprintf(plain_bytes[i], sizeof(plain_bytes[i]), "r%llu",
                           (unsigned long long)(e->seq_first + i));
        plain[i].ts_ms = e->first_ts + i;
        plain[i].data = (const uint8_t *)plain_bytes[i];
        plain[i].len = (size_t)len;
    }
    ck_assert_msg(rstore_records_put(rs, e, plain, e->paid, 99000, errmsg) == 0,
                  "%s", errmsg);
}

struct seen
{
    uint64_t seqs[128];
    size_t n;
    int stop_after;
};

static int seen_cb(void *arg, const struct rstore_record *rec)
{
    struct seen *s = arg;
    char want[16];

    (void)snprintf(want, sizeof(want), "r%llu", (unsigned long long)rec->seq);
    ck_assert_uint_eq(rec->len, strlen(want));
    ck_assert_mem_eq(rec->data, want, rec->len);
    ck_assert_uint_eq(rec->stored_ms, 99000);
    s->seqs[s->n++] = rec->seq;
    return s->stop_after != 0 && (int)s->n == s->stop_after ? 1 : 0;
}

static struct rstore_stats stats(const char *stream)
{
    struct rstore_stats st;

    ck_assert_msg(rstore_stats_get(rs, stream, &st, errmsg) == 0, "%s", errmsg);
    return st;
}

/* ---- open ---------------------------------------------------------------- */

START_TEST(test_open_twice_is_locked)
{
    struct rstore *other = (struct rstore *)1;

    ck_assert_int_eq(rstore_open(&other, path, errmsg), TDEI_LOCKED);
    ck_assert_ptr_null(other);
    ck_assert_ptr_nonnull(strstr(errmsg, "in use by another process"));
}
END_TEST

START_TEST(test_open_another_version_is_refused)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    uint8_t v2[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val k = {.mv_size = 14, .mv_data = "stream.version"};
    MDB_val v = {.mv_size = 8, .mv_data = v2};

    rstore_close(rs);
    rs = NULL;
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 8), 0);
    ck_assert_int_eq(mdb_env_open(env, path, MDB_NOTLS, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ck_assert_int_eq(mdb_put(txn, meta, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    ck_assert_int_eq(rstore_open(&rs, path, errmsg), TDEI_VERSION);
    ck_assert_ptr_nonnull(strstr(errmsg, "another format version"));
}
END_TEST

START_TEST(test_open_under_a_missing_parent_fails)
{
    struct rstore *other;
    char bad[4300];

    (void)snprintf(bad, sizeof(bad), "%s/none/streams", tmpdir);
    ck_assert_int_eq(rstore_open(&other, bad, errmsg), TDEI_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(errmsg, "none/streams"));
}
END_TEST

/* ---- the owner's batches ------------------------------------------------- */

START_TEST(test_batch_put_and_read_back)
{
    struct rstore_batch got;
    ProtobufCBinaryData out[RECS_MAX];
    uint8_t *blob;
    size_t n;
    struct rstore_batch b = batch_make("press-feed", 0, 5);

    ck_assert_int_eq(rstore_batch_put(rs, &b, recs, 5, errmsg), 0);
    reopen();
    ck_assert_int_eq(rstore_batch_get(rs, "press-feed", 0, &got, errmsg), 0);
    ck_assert_int_eq(got.state, RSTORE_PENDING);
    ck_assert_uint_eq(got.count, 5);
    ck_assert_uint_eq(got.first_ts, 1000);
    ck_assert_uint_eq(got.last_ts, 1004);
    ck_assert_uint_eq(got.created_height, 7);
    ck_assert_mem_eq(got.root, b.root, 32);
    ck_assert_mem_eq(got.key, b.key, 32);
    ck_assert_uint_eq(got.n_charges, 0);
    ck_assert_int_eq(rstore_batch_records(rs, "press-feed", 0, &blob, out,
                                          RECS_MAX, &n, errmsg),
                     0);
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(out[i].len, 24 + i);
        ck_assert_mem_eq(out[i].data, rec_bytes[i], out[i].len);
    }
    tdei_free(blob);
    ck_assert_uint_eq(stats("press-feed").last_ts, 1004);
    ck_assert_int_eq(stats("press-feed").held, 0);
}
END_TEST

START_TEST(test_batch_put_refuses_a_count_mismatch)
{
    struct rstore_batch b = batch_make("press-feed", 0, 5);
    struct rstore_batch got;

    ck_assert_int_eq(rstore_batch_put(rs, &b, recs, 4, errmsg), TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "4 records given for a count of 5"));
    ck_assert_int_eq(rstore_batch_get(rs, "press-feed", 0, &got, errmsg),
                     TDEI_NOTFOUND);
}
END_TEST

START_TEST(test_batch_applied_keeps_charges_and_counts)
{
    struct rstore_charge ch[2];
    struct rstore_batch got;
    struct rstore_stats st;

    batch_store("press-feed", 0, 5);
    memset(ch, 0, sizeof(ch));
    memset(ch[0].xid, 0xa1, 32);
    ch[0].paid = 5;
    memset(ch[1].xid, 0xb2, 32);
    ch[1].paid = 3;
    ck_assert_int_eq(
        rstore_batch_applied(rs, "press-feed", 0, 12, 777, ch, 2, errmsg), 0);
    batch_store("press-feed", 5, 2);
    ck_assert_int_eq(
        rstore_batch_applied(rs, "press-feed", 5, 13, 778, ch, 1, errmsg), 0);
    /* Applying again changes nothing in the counters. */
    ck_assert_int_eq(
        rstore_batch_applied(rs, "press-feed", 5, 13, 778, ch, 1, errmsg), 0);
    reopen();
    ck_assert_int_eq(rstore_batch_get(rs, "press-feed", 0, &got, errmsg), 0);
    ck_assert_int_eq(got.state, RSTORE_APPLIED);
    ck_assert_uint_eq(got.height, 12);
    ck_assert_uint_eq(got.applied_ms, 777);
    ck_assert_uint_eq(got.n_charges, 2);
    ck_assert_mem_eq(got.charges[1].xid, ch[1].xid, 32);
    ck_assert_uint_eq(got.charges[1].paid, 3);
    st = stats("press-feed");
    ck_assert_uint_eq(st.appended_records, 7);
    ck_assert_uint_eq(st.appended_batches, 2);
    ck_assert_int_eq(st.held, 1);
    ck_assert_uint_eq(st.held_from, 0);
    ck_assert_uint_eq(st.next_seq, 7);
}
END_TEST

START_TEST(test_batch_applied_of_a_missing_batch_is_not_found)
{
    ck_assert_int_eq(
        rstore_batch_applied(rs, "press-feed", 3, 1, 1, NULL, 0, errmsg),
        TDEI_NOTFOUND);
    ck_assert_uint_eq(stats("press-feed").appended_batches, 0);
    ck_assert_int_eq(rstore_batch_applied(rs, "press-feed", 3, 1, 1, NULL,
                                          RSTORE_CHARGES_MAX + 1, errmsg),
                     TDEI_INVAL);
}
END_TEST

START_TEST(test_batch_refused_deletes_it_and_keeps_the_reason)
{
    struct rstore_batch got;
    struct rstore_stats st;
    ProtobufCBinaryData out[RECS_MAX];
    uint8_t *blob;
    size_t n;

    batch_store("press-feed", 0, 5);
    ck_assert_int_eq(rstore_batch_refused(
                         rs, "press-feed", 0, 5, TDEI_STREAM_STALE,
                         "stream_append: last_ts 1004 is 9 ms behind", errmsg),
                     0);
    ck_assert_int_eq(rstore_batch_get(rs, "press-feed", 0, &got, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_int_eq(rstore_batch_records(rs, "press-feed", 0, &blob, out,
                                          RECS_MAX, &n, errmsg),
                     TDEI_NOTFOUND);
    /* The seqs are used again by the next batch. */
    batch_store("press-feed", 0, 3);
    reopen();
    st = stats("press-feed");
    ck_assert_uint_eq(st.refused_records, 5);
    ck_assert_uint_eq(st.refused_batches, 1);
    ck_assert_uint_eq(st.last_refusal_code, TDEI_STREAM_STALE);
    ck_assert_str_eq(st.last_refusal,
                     "stream_append: last_ts 1004 is 9 ms behind");
    ck_assert_int_eq(rstore_batch_get(rs, "press-feed", 0, &got, errmsg), 0);
    ck_assert_uint_eq(got.count, 3);
}
END_TEST

START_TEST(test_batch_at_finds_the_batch_holding_a_seq)
{
    struct rstore_batch got;

    batch_store("press-feed", 0, 5);
    batch_store("press-feed", 5, 3);
    batch_store("press-feed", 10, 2);
    batch_store("press-feee", 0, 1);
    batch_store("press-feeds", 0, 1);
    ck_assert_int_eq(rstore_batch_at(rs, "press-feed", 0, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 0);
    ck_assert_int_eq(rstore_batch_at(rs, "press-feed", 4, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 0);
    ck_assert_int_eq(rstore_batch_at(rs, "press-feed", 7, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 5);
    ck_assert_str_eq(got.stream, "press-feed");
    /* 8 and 9 are in no batch: the next one. */
    ck_assert_int_eq(rstore_batch_at(rs, "press-feed", 8, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 10);
    ck_assert_int_eq(rstore_batch_at(rs, "press-feed", 11, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 10);
    ck_assert_int_eq(rstore_batch_at(rs, "press-feed", 12, &got, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_int_eq(rstore_batch_at(rs, "other-feed", 0, &got, errmsg),
                     TDEI_NOTFOUND);
}
END_TEST

static int pending_cb(void *arg, const struct rstore_batch *b)
{
    size_t *n = arg;

    ck_assert_int_eq(b->state, RSTORE_PENDING);
    ck_assert_uint_eq(b->seq_first, 5);
    ck_assert_str_eq(b->stream, "press-feed");
    (*n)++;
    return 0;
}

START_TEST(test_pending_each_lists_only_pending_batches)
{
    size_t n = 0;

    batch_store("press-feed", 0, 5);
    ck_assert_int_eq(
        rstore_batch_applied(rs, "press-feed", 0, 3, 3, NULL, 0, errmsg), 0);
    batch_store("press-feed", 5, 3);
    ck_assert_int_eq(rstore_pending_each(rs, pending_cb, &n, errmsg), 0);
    ck_assert_uint_eq(n, 1);
}
END_TEST

/* ---- a subscriber -------------------------------------------------------- */

START_TEST(test_expect_put_get_and_first)
{
    struct rstore_expect e1 = expect_make(0x11, 10, 4, 4);
    struct rstore_expect e2 = expect_make(0x11, 14, 4, 2);
    struct rstore_expect e3 = expect_make(0x22, 0, 4, 4);
    struct rstore_expect got;

    ck_assert_int_eq(rstore_expect_put(rs, &e2, errmsg), 0);
    ck_assert_int_eq(rstore_expect_put(rs, &e1, errmsg), 0);
    ck_assert_int_eq(rstore_expect_put(rs, &e3, errmsg), 0);
    reopen();
    ck_assert_int_eq(rstore_expect_get(rs, e2.xid, 14, &got, errmsg), 0);
    ck_assert_uint_eq(got.paid, 2);
    ck_assert_uint_eq(got.height, 54);
    ck_assert_str_eq(got.stream, "press-feed");
    ck_assert_str_eq(got.owner, "mfg-1");
    ck_assert_mem_eq(got.root, e2.root, 32);
    ck_assert_int_eq(rstore_expect_first(rs, e1.xid, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 10);
    memset(got.xid, 0x33, 32);
    ck_assert_int_eq(rstore_expect_first(rs, got.xid, &got, errmsg),
                     TDEI_NOTFOUND);
}
END_TEST

START_TEST(test_expect_put_refuses_bad_ids)
{
    struct rstore_expect e = expect_make(0x11, 10, 4, 4);

    e.owner[0] = '\0';
    ck_assert_int_eq(rstore_expect_put(rs, &e, errmsg), TDEI_INVAL);
    e = expect_make(0x11, 10, 4, 5);
    ck_assert_int_eq(rstore_expect_put(rs, &e, errmsg), TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "paid 5 above count 4"));
}
END_TEST

static int first_cb(void *arg, const struct rstore_expect *e)
{
    struct seen *s = arg;

    s->seqs[s->n++] = e->seq_first;
    return 0;
}

START_TEST(test_expect_each_first_gives_one_per_subscription)
{
    struct seen s = {0};
    struct rstore_expect e;

    for (uint64_t i = 0; i < 5; i++) {
        e = expect_make(0x11, 10 + i * 4, 4, 4);
        ck_assert_int_eq(rstore_expect_put(rs, &e, errmsg), 0);
        e = expect_make(0x22, 30 + i * 4, 4, 4);
        ck_assert_int_eq(rstore_expect_put(rs, &e, errmsg), 0);
    }
    e = expect_make(0x33, UINT64_MAX - 4, 4, 4);
    ck_assert_int_eq(rstore_expect_put(rs, &e, errmsg), 0);
    ck_assert_int_eq(rstore_expect_each_first(rs, first_cb, &s, errmsg), 0);
    ck_assert_uint_eq(s.n, 3);
    ck_assert_uint_eq(s.seqs[0], 10);
    ck_assert_uint_eq(s.seqs[1], 30);
    ck_assert_uint_eq(s.seqs[2], UINT64_MAX - 4);
}
END_TEST

START_TEST(test_records_out_of_order_fill_the_range)
{
    struct rstore_expect a = expect_make(0x11, 100, 4, 4);
    struct rstore_expect b = expect_make(0x11, 104, 4, 4);
    struct rstore_expect c = expect_make(0x11, 108, 4, 4);
    struct rstore_expect got;
    struct rstore_stats st;
    struct seen s = {0};

    ck_assert_int_eq(rstore_expect_put(rs, &a, errmsg), 0);
    ck_assert_int_eq(rstore_expect_put(rs, &b, errmsg), 0);
    ck_assert_int_eq(rstore_expect_put(rs, &c, errmsg), 0);
    records_store(&a);
    records_store(&c);
    st = stats("press-feed");
    ck_assert_uint_eq(st.held_from, 100);
    ck_assert_uint_eq(st.next_seq, 104);
    ck_assert_uint_eq(st.received_records, 8);
    /* What is owed now is the middle batch. */
    ck_assert_int_eq(rstore_expect_first(rs, a.xid, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 104);
    /* A read stops at the gap. */
    ck_assert_int_eq(
        rstore_records_each(rs, "press-feed", 100, 100, seen_cb, &s, errmsg),
        0);
    ck_assert_uint_eq(s.n, 4);
    ck_assert_uint_eq(s.seqs[0], 100);
    ck_assert_uint_eq(s.seqs[3], 103);
    records_store(&b);
    reopen();
    st = stats("press-feed");
    ck_assert_uint_eq(st.held_from, 100);
    ck_assert_uint_eq(st.next_seq, 112);
    ck_assert_uint_eq(st.received_records, 12);
    ck_assert_int_eq(rstore_expect_first(rs, a.xid, &got, errmsg),
                     TDEI_NOTFOUND);
    s.n = 0;
    ck_assert_int_eq(
        rstore_records_each(rs, "press-feed", 102, 100, seen_cb, &s, errmsg),
        0);
    ck_assert_uint_eq(s.n, 10);
    ck_assert_uint_eq(s.seqs[9], 111);
    s.n = 0;
    ck_assert_int_eq(
        rstore_records_each(rs, "press-feed", 102, 3, seen_cb, &s, errmsg), 0);
    ck_assert_uint_eq(s.n, 3);
    s.n = 0;
    s.stop_after = 2;
    ck_assert_int_eq(
        rstore_records_each(rs, "press-feed", 100, 100, seen_cb, &s, errmsg),
        0);
    ck_assert_uint_eq(s.n, 2);
}
END_TEST

START_TEST(test_records_of_a_partly_paid_batch)
{
    struct rstore_expect a = expect_make(0x11, 0, 6, 4);
    struct rstore_stats st;

    ck_assert_int_eq(rstore_expect_put(rs, &a, errmsg), 0);
    ck_assert_int_eq(rstore_records_put(rs, &a, plain, 5, 1, errmsg),
                     TDEI_INVAL);
    records_store(&a);
    st = stats("press-feed");
    ck_assert_uint_eq(st.next_seq, 4);
    ck_assert_uint_eq(st.received_records, 4);
    ck_assert_int_eq(rstore_record_held(rs, "press-feed", 3, errmsg), 1);
    ck_assert_int_eq(rstore_record_held(rs, "press-feed", 4, errmsg), 0);
}
END_TEST

START_TEST(test_records_below_the_range_move_held_from)
{
    struct rstore_expect hi = expect_make(0x11, 50, 4, 4);
    struct rstore_expect lo = expect_make(0x11, 10, 4, 4);
    struct rstore_expect mid = expect_make(0x11, 46, 4, 4);
    struct rstore_stats st;

    records_store(&hi);
    records_store(&lo);
    st = stats("press-feed");
    ck_assert_uint_eq(st.held_from, 10);
    ck_assert_uint_eq(st.next_seq, 14);
    records_store(&mid);
    st = stats("press-feed");
    ck_assert_uint_eq(st.held_from, 10);
    ck_assert_uint_eq(st.next_seq, 14);
}
END_TEST

START_TEST(test_expect_put_skips_a_batch_already_held)
{
    struct rstore_expect a = expect_make(0x11, 0, 4, 4);
    struct rstore_expect got;

    records_store(&a);
    ck_assert_int_eq(rstore_expect_put(rs, &a, errmsg), 0);
    ck_assert_int_eq(rstore_expect_get(rs, a.xid, 0, &got, errmsg),
                     TDEI_NOTFOUND);
}
END_TEST

START_TEST(test_record_next_and_owed_from_find_what_comes_after_a_gap)
{
    struct rstore_expect a = expect_make(0x11, 0, 4, 4);
    struct rstore_expect b = expect_make(0x11, 10, 3, 3);
    struct rstore_expect owed = expect_make(0x22, 6, 4, 2);
    struct rstore_expect other = expect_make(0x33, 5, 4, 4);
    struct rstore_expect got;
    uint64_t next = 99;

    records_store(&a);
    records_store(&b);
    ck_assert_int_eq(rstore_expect_put(rs, &owed, errmsg), 0);
    (void)snprintf(other.stream, sizeof(other.stream), "other-feed");
    ck_assert_int_eq(rstore_expect_put(rs, &other, errmsg), 0);
    ck_assert_int_eq(rstore_record_next(rs, "press-feed", 2, &next, errmsg), 0);
    ck_assert_uint_eq(next, 2);
    ck_assert_int_eq(rstore_record_next(rs, "press-feed", 4, &next, errmsg), 0);
    ck_assert_uint_eq(next, 10);
    ck_assert_int_eq(rstore_record_next(rs, "press-feed", 13, &next, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_int_eq(rstore_record_next(rs, "press-fee", 0, &next, errmsg),
                     TDEI_NOTFOUND);
    /* Seqs 6-7 are paid and owed (8-9 were not paid: they never come). */
    ck_assert_int_eq(rstore_owed_from(rs, "press-feed", 4, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 6);
    ck_assert_int_eq(rstore_owed_from(rs, "press-feed", 7, &got, errmsg), 0);
    ck_assert_int_eq(rstore_owed_from(rs, "press-feed", 8, &got, errmsg),
                     TDEI_NOTFOUND);
    ck_assert_int_eq(rstore_owed_from(rs, "other-feed", 0, &got, errmsg), 0);
    ck_assert_uint_eq(got.seq_first, 5);
}
END_TEST

START_TEST(test_bad_batches_are_counted)
{
    ck_assert_int_eq(rstore_bad_batch(rs, "press-feed", errmsg), 0);
    ck_assert_int_eq(rstore_bad_batch(rs, "press-feed", errmsg), 0);
    reopen();
    ck_assert_uint_eq(stats("press-feed").bad_batches, 2);
    ck_assert_uint_eq(stats("other-feed").bad_batches, 0);
}
END_TEST

/* ---- the owner's queue --------------------------------------------------- */

struct queue_seen
{
    char stream[8][STREAM_ID_MAX + 1];
    uint64_t qseq[8];
    uint64_t ts[8];
    char data[8][8];
    size_t n;
};

static int queue_cb(void *arg, const char *stream,
                    const struct rstore_queued *rec)
{
    struct queue_seen *seen = arg;

    ck_assert_uint_lt(seen->n, 8);
    (void)snprintf(seen->stream[seen->n], sizeof(seen->stream[0]), "%s",
                   stream);
    seen->qseq[seen->n] = rec->qseq;
    seen->ts[seen->n] = rec->ts_ms;
    ck_assert_uint_lt(rec->len, sizeof(seen->data[0]));
    memcpy(seen->data[seen->n], rec->data, rec->len);
    seen->data[seen->n][rec->len] = '\0';
    seen->n++;
    return 0;
}

static struct queue_seen queue_walk(void)
{
    struct queue_seen seen;

    memset(&seen, 0, sizeof(seen));
    ck_assert_msg(rstore_queue_each(rs, queue_cb, &seen, errmsg) == 0, "%s",
                  errmsg);
    return seen;
}

/* Queued records survive a reopen, in order by stream then qseq; a
 * batch cut from them deletes exactly its records in its own write; a
 * bad record queues none. */
START_TEST(test_queue_survives_and_goes_with_its_batch)
{
    struct rstore_queued q[4] = {
        {.qseq = 5, .ts_ms = 100, .data = (const uint8_t *)"r5", .len = 2},
        {.qseq = 6, .ts_ms = 101, .data = (const uint8_t *)"r6", .len = 2},
        {.qseq = 7, .ts_ms = 102, .data = (const uint8_t *)"r7", .len = 2},
        {.qseq = 0, .ts_ms = 900, .data = (const uint8_t *)"o0", .len = 2},
    };
    struct rstore_batch b = batch_make("line-feed", 0, 2);
    struct queue_seen seen;

    ck_assert_int_eq(rstore_queue_put(rs, "line-feed", q, 3, errmsg), 0);
    ck_assert_int_eq(rstore_queue_put(rs, "beta-feed", q + 3, 1, errmsg), 0);
    reopen();
    seen = queue_walk();
    ck_assert_uint_eq(seen.n, 4);
    ck_assert_str_eq(seen.stream[0], "beta-feed");
    ck_assert_str_eq(seen.data[0], "o0");
    ck_assert_str_eq(seen.stream[1], "line-feed");
    ck_assert_uint_eq(seen.qseq[1], 5);
    ck_assert_uint_eq(seen.ts[1], 100);
    ck_assert_str_eq(seen.data[3], "r7");
    ck_assert_uint_eq(seen.qseq[3], 7);
    /* The batch of r5 and r6: stored, and they leave the queue. */
    ck_assert_msg(rstore_batch_put_queued(rs, &b, recs, 2, 5, 2, errmsg) == 0,
                  "%s", errmsg);
    seen = queue_walk();
    ck_assert_uint_eq(seen.n, 2);
    ck_assert_str_eq(seen.data[1], "r7");
    /* A batch that cannot be stored deletes nothing. */
    ck_assert_int_eq(rstore_batch_put_queued(rs, &b, recs, 1, 7, 1, errmsg),
                     TDEI_INVAL);
    ck_assert_uint_eq(queue_walk().n, 2);
    /* Deleting a range passes over what is missing. */
    ck_assert_int_eq(rstore_queue_delete(rs, "line-feed", 0, 100, errmsg), 0);
    seen = queue_walk();
    ck_assert_uint_eq(seen.n, 1);
    ck_assert_str_eq(seen.stream[0], "beta-feed");
    /* An empty record is refused and queues nothing. */
    q[1].len = 0;
    ck_assert_int_eq(rstore_queue_put(rs, "line-feed", q, 2, errmsg),
                     TDEI_INVAL);
    ck_assert_ptr_nonnull(strstr(errmsg, "record 1 for line-feed has 0 bytes"));
    ck_assert_uint_eq(queue_walk().n, 1);
}
END_TEST

static Suite *rstore_suite(void)
{
    Suite *s = suite_create("rstore");
    TCase *tc;

#define ADD(name, fn)                                                          \
    tc = tcase_create(name);                                                   \
    tcase_add_checked_fixture(tc, setup, teardown);                            \
    tcase_add_test(tc, fn);                                                    \
    suite_add_tcase(s, tc)

    ADD("locked", test_open_twice_is_locked);
    ADD("version", test_open_another_version_is_refused);
    ADD("missing_parent", test_open_under_a_missing_parent_fails);
    ADD("batch_put", test_batch_put_and_read_back);
    ADD("batch_put_count", test_batch_put_refuses_a_count_mismatch);
    ADD("batch_applied", test_batch_applied_keeps_charges_and_counts);
    ADD("batch_applied_missing",
        test_batch_applied_of_a_missing_batch_is_not_found);
    ADD("batch_refused", test_batch_refused_deletes_it_and_keeps_the_reason);
    ADD("batch_at", test_batch_at_finds_the_batch_holding_a_seq);
    ADD("pending_each", test_pending_each_lists_only_pending_batches);
    ADD("expect", test_expect_put_get_and_first);
    ADD("expect_bad", test_expect_put_refuses_bad_ids);
    ADD("expect_each_first", test_expect_each_first_gives_one_per_subscription);
    ADD("records_order", test_records_out_of_order_fill_the_range);
    ADD("records_paid", test_records_of_a_partly_paid_batch);
    ADD("records_below", test_records_below_the_range_move_held_from);
    ADD("expect_held", test_expect_put_skips_a_batch_already_held);
    ADD("bad_batches", test_bad_batches_are_counted);
    ADD("queue", test_queue_survives_and_goes_with_its_batch);
    ADD("record_next_owed_from",
        test_record_next_and_owed_from_find_what_comes_after_a_gap);
#undef ADD
    return s;
}

int main(void) { return testutil_run(rstore_suite()); }
