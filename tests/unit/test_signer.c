/* Tests of the double-sign guard's record (signer.h): the
 * layout against its documented example, round trips, the record moving
 * only forward, refusals that leave the stored record unchanged, racing
 * persists of which exactly one wins, close and reopen, and damaged
 * records (every flipped byte, and records whose checksum holds but whose
 * fields do not). */
#include "testutil.h"

#include "core/error.h"
#include "core/hash.h"
#include "signer.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static char tmpdir[4096];
static char dir[4200];
static char errmsg[TDEI_ERRMSG_SIZE];
static struct store *st;

static void setup(void)
{
    testutil_leak_setup();
    (void)snprintf(tmpdir, sizeof(tmpdir), "%s", testutil_tmpdir());
    (void)snprintf(dir, sizeof(dir), "%s/ledger", tmpdir);
    errmsg[0] = '\0';
    ck_assert_int_eq(store_open(&st, dir, NULL, errmsg), 0);
}

static void teardown(void)
{
    store_close(st);
    st = NULL;
    testutil_rmtree(tmpdir);
    testutil_leak_teardown();
}

/* ---- helpers ------------------------------------------------------------- */

/* A record at (@height, @round, @step) whose @len sign bytes are @fill and
 * whose signature is 64 bytes of @sig. */
static struct cons_signed rec_make(uint64_t height, uint32_t round,
                                   enum cons_step step, size_t len,
                                   uint8_t fill, uint8_t sig)
{
    struct cons_signed r;

    memset(&r, 0, sizeof(r));
    r.height = height;
    r.round = round;
    r.step = step;
    r.len = len;
    memset(r.bytes, fill, len);
    memset(r.sig, sig, sizeof(r.sig));
    /* A proposal names a block and its pol_round; a vote here is nil. */
    r.id.nil = step != CONS_STEP_PROPOSE;
    if (!r.id.nil) {
        memset(r.id.bytes, fill ^ 0x5a, sizeof(r.id.bytes));
    }
    r.pol_round = step == CONS_STEP_PROPOSE ? (int32_t)round - 1 : -1;
    return r;
}

static void rec_assert_eq(const struct cons_signed *a,
                          const struct cons_signed *b)
{
    ck_assert_uint_eq(a->height, b->height);
    ck_assert_uint_eq(a->round, b->round);
    ck_assert_int_eq(a->step, b->step);
    ck_assert_uint_eq(a->len, b->len);
    ck_assert_mem_eq(a->bytes, b->bytes, a->len);
    ck_assert_mem_eq(a->sig, b->sig, sizeof(a->sig));
    ck_assert_int_eq(a->id.nil, b->id.nil);
    ck_assert_mem_eq(a->id.bytes, b->id.bytes, sizeof(a->id.bytes));
    ck_assert_int_eq(a->pol_round, b->pol_round);
}

static void persist_ok(const struct cons_signed *r)
{
    int rc = signer_persist(st, r, errmsg);

    ck_assert_msg(rc == 0, "signer_persist: %s: %s", tdei_errname(rc), errmsg);
}

/* The stored record must be @want. */
static void stored_is(const struct cons_signed *want)
{
    struct cons_signed got;
    int rc = signer_load(st, &got, errmsg);

    ck_assert_msg(rc == 0, "signer_load: %s: %s", tdei_errname(rc), errmsg);
    rec_assert_eq(&got, want);
}

/* Write @len raw bytes as the record, bypassing the guard. */
static void raw_put(const uint8_t *val, size_t len)
{
    static const uint8_t key[] = SIGNER_KEY;
    struct store_batch *b;

    ck_assert_int_eq(store_batch_create(&b, 4096), 0);
    ck_assert_int_eq(
        store_batch_put(b, STORE_DB_SIGNER, key, sizeof(key) - 1, val, len), 0);
    ck_assert_int_eq(store_commit(st, b, errmsg), 0);
    store_batch_destroy(b);
}

/* The raw stored bytes into @out (@cap); returns their length. */
static size_t raw_get(uint8_t *out, size_t cap)
{
    static const uint8_t key[] = SIGNER_KEY;
    struct store_read *r;
    size_t len = 0;

    ck_assert_int_eq(store_read_begin(st, &r, errmsg), 0);
    ck_assert_int_eq(store_get_copy(r, STORE_DB_SIGNER, key, sizeof(key) - 1,
                                    out, cap, &len),
                     0);
    store_read_end(r);
    return len;
}

/* Re-seal the checksum of a record of @len bytes after editing it. */
static void reseal(uint8_t *val, size_t len)
{
    tdei_sha256(val + len - SIGNER_CHECKSUM_SIZE, val,
                len - SIGNER_CHECKSUM_SIZE);
}

/* ---- layout and round trip ----------------------------------------------- */

START_TEST(test_signer_layout_matches_header_example)
{
    static const char *head_hex = "01"
                                  "000000000000032c"
                                  "00000003"
                                  "02"
                                  "0002"
                                  "aabb";
    uint8_t want[SIGNER_RECORD_SIZE_MAX];
    uint8_t got[SIGNER_RECORD_SIZE_MAX];
    struct cons_signed r = rec_make(812, 3, CONS_STEP_PREVOTE, 2, 0, 0x11);
    struct cons_signed back;
    size_t n = testutil_unhex(want, sizeof(want), head_hex);

    r.bytes[0] = 0xaa;
    r.bytes[1] = 0xbb;
    memset(want + n, 0x11, 64);
    n += 64;
    want[n++] = 0x01; /* the id is nil */
    memset(want + n, 0, 32);
    n += 32;
    memset(want + n, 0xff, 4); /* pol_round -1 */
    n += 4;
    tdei_sha256(want + n, want, n);
    n += 32;
    ck_assert_uint_eq(n, 151);
    ck_assert_uint_eq(signer_record_encode(got, &r), 151);
    ck_assert_mem_eq(got, want, 151);
    ck_assert_int_eq(signer_record_decode(&back, got, 151, errmsg), 0);
    rec_assert_eq(&back, &r);
    ck_assert_uint_eq(back.bytes[2], 0); /* past len: zeroed */
}
END_TEST

START_TEST(test_signer_round_trip_and_none_before)
{
    struct cons_signed got;
    struct cons_signed r =
        rec_make(7, 0, CONS_STEP_PROPOSE, CONS_SIGN_BYTES_MAX, 0x5a, 0x22);

    memset(&got, 0xee, sizeof(got));
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_NOTFOUND);
    ck_assert_str_eq(errmsg, "signer: no signed record yet");
    ck_assert_uint_eq(got.height, 0); /* zeroed on failure */
    persist_ok(&r);
    stored_is(&r);
    r = rec_make(7, 0, CONS_STEP_PREVOTE, 1, 0x01, 0x23);
    persist_ok(&r);
    stored_is(&r);
}
END_TEST

START_TEST(test_signer_moves_forward)
{
    const struct cons_signed seq[] = {
        rec_make(5, 0, CONS_STEP_PROPOSE, 57, 1, 1),
        rec_make(5, 0, CONS_STEP_PREVOTE, 57, 2, 2),
        rec_make(5, 0, CONS_STEP_PRECOMMIT, 57, 3, 3),
        rec_make(5, 1, CONS_STEP_PREVOTE, 57, 4, 4), /* not proposer */
        rec_make(5, 9, CONS_STEP_PROPOSE, 59, 5, 5), /* rounds skipped */
        rec_make(6, 0, CONS_STEP_PRECOMMIT, 57, 6, 6),
        rec_make(UINT64_MAX, UINT32_MAX, CONS_STEP_PRECOMMIT, 57, 7, 7),
    };

    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        persist_ok(&seq[i]);
        stored_is(&seq[i]);
    }
}
END_TEST

/* ---- refusals ------------------------------------------------------------ */

START_TEST(test_signer_refuses_backwards_and_keeps_the_record)
{
    const struct cons_signed last =
        rec_make(10, 2, CONS_STEP_PREVOTE, 57, 0x40, 0x41);
    const struct cons_signed earlier[] = {
        rec_make(10, 2, CONS_STEP_PROPOSE, 57, 1, 1),   /* earlier step */
        rec_make(10, 1, CONS_STEP_PRECOMMIT, 57, 2, 2), /* earlier round */
        rec_make(9, 7, CONS_STEP_PRECOMMIT, 57, 3, 3),  /* earlier height */
    };

    persist_ok(&last);
    for (size_t i = 0; i < sizeof(earlier) / sizeof(earlier[0]); i++) {
        ck_assert_int_eq(signer_persist(st, &earlier[i], errmsg),
                         TDEI_SIGN_BACKWARDS);
        stored_is(&last);
    }
    ck_assert_int_eq(signer_persist(st, &earlier[2], errmsg),
                     TDEI_SIGN_BACKWARDS);
    ck_assert_str_eq(errmsg, "signer: height 9 round 7 precommit "
                             "is before the last signed height 10 round 2 "
                             "prevote; never sign backwards, resume from "
                             "the stored record");
}
END_TEST

START_TEST(test_signer_refuses_a_double_sign_and_keeps_the_record)
{
    const struct cons_signed last =
        rec_make(10, 2, CONS_STEP_PRECOMMIT, 57, 0x40, 0x41);
    struct cons_signed other = last;

    persist_ok(&last);
    other.bytes[56] ^= 1; /* another block id */
    ck_assert_int_eq(signer_persist(st, &other, errmsg), TDEI_SIGN_CONFLICT);
    ck_assert_str_eq(errmsg, "signer: height 10 round 2 precommit "
                             "is already signed with other sign bytes; "
                             "re-send the stored message");
    stored_is(&last);
    other = last;
    other.len = 56; /* a shorter message */
    ck_assert_int_eq(signer_persist(st, &other, errmsg), TDEI_SIGN_CONFLICT);
    stored_is(&last);
    other = last;
    other.sig[0] ^= 1; /* the same message signed again */
    ck_assert_int_eq(signer_persist(st, &other, errmsg), TDEI_SIGN_CONFLICT);
    ck_assert_str_eq(errmsg, "signer: height 10 round 2 precommit "
                             "is already signed with other signature; "
                             "re-send the stored message");
    stored_is(&last);
    /* The identical record is accepted (a re-send after a restart). */
    persist_ok(&last);
    stored_is(&last);
}
END_TEST

struct race
{
    pthread_t thread;
    struct cons_signed rec;
    int rc;
    char errmsg[TDEI_ERRMSG_SIZE];
};

static void *race_run(void *arg)
{
    struct race *r = arg;

    r->rc = signer_persist(st, &r->rec, r->errmsg);
    return NULL;
}

START_TEST(test_signer_racing_persists_one_wins)
{
    struct race races[4];
    struct cons_signed winner;
    int wins = 0;

    for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < 4; i++) {
            races[i].rec = rec_make(3, (uint32_t)round, CONS_STEP_PREVOTE, 57,
                                    (uint8_t)i, (uint8_t)i);
            ck_assert_int_eq(
                pthread_create(&races[i].thread, NULL, race_run, &races[i]), 0);
        }
        wins = 0;
        for (size_t i = 0; i < 4; i++) {
            ck_assert_int_eq(pthread_join(races[i].thread, NULL), 0);
            if (races[i].rc == 0) {
                wins++;
                winner = races[i].rec;
            } else {
                ck_assert_int_eq(races[i].rc, TDEI_SIGN_CONFLICT);
            }
        }
        ck_assert_int_eq(wins, 1);
        stored_is(&winner);
    }
}
END_TEST

/* ---- durability and damage ----------------------------------------------- */

START_TEST(test_signer_survives_close_and_reopen)
{
    const struct cons_signed last =
        rec_make(44, 1, CONS_STEP_PRECOMMIT, 60, 0x33, 0x34);
    struct cons_signed earlier = rec_make(44, 1, CONS_STEP_PREVOTE, 60, 1, 1);

    persist_ok(&last);
    store_close(st);
    st = NULL;
    ck_assert_int_eq(store_open(&st, dir, NULL, errmsg), 0);
    stored_is(&last);
    ck_assert_int_eq(signer_persist(st, &earlier, errmsg), TDEI_SIGN_BACKWARDS);
    persist_ok(&last);
}
END_TEST

START_TEST(test_signer_damaged_record_is_corrupt)
{
    const struct cons_signed last =
        rec_make(12, 0, CONS_STEP_PREVOTE, 57, 0x61, 0x62);
    const struct cons_signed next =
        rec_make(13, 0, CONS_STEP_PREVOTE, 57, 0x71, 0x72);
    uint8_t good[SIGNER_RECORD_SIZE_MAX];
    uint8_t bad[SIGNER_RECORD_SIZE_MAX];
    uint8_t now[SIGNER_RECORD_SIZE_MAX];
    struct cons_signed got;
    size_t n = signer_record_encode(good, &last);

    persist_ok(&last);
    ck_assert_uint_eq(raw_get(now, sizeof(now)), n);
    ck_assert_mem_eq(now, good, n);

    /* A flipped bit anywhere: the checksum catches it. */
    memcpy(bad, good, n);
    bad[5] ^= 0x10; /* in the height */
    raw_put(bad, n);
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_CORRUPT);
    ck_assert_str_eq(errmsg, "signer: load: signer record failed "
                             "its checksum; restore the data directory from "
                             "a backup");
    ck_assert_uint_eq(got.height, 0);
    /* persist refuses to write over it, forward or not. */
    ck_assert_int_eq(signer_persist(st, &next, errmsg), TDEI_CORRUPT);
    ck_assert_str_eq(errmsg, "signer: nothing written: signer "
                             "record failed its checksum; restore the data "
                             "directory from a backup");
    ck_assert_uint_eq(raw_get(now, sizeof(now)), n);
    ck_assert_mem_eq(now, bad, n);

    /* Truncated. */
    raw_put(good, n - 1);
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_CORRUPT);
    ck_assert_int_eq(signer_persist(st, &next, errmsg), TDEI_CORRUPT);
    /* Checksum intact, fields not: version, step, len. */
    memcpy(bad, good, n);
    bad[0] = 2;
    reseal(bad, n);
    raw_put(bad, n);
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_CORRUPT);
    ck_assert_str_eq(errmsg, "signer: load: signer record has "
                             "format version 2; this node reads version 1; "
                             "restore the data directory from a backup");
    memcpy(bad, good, n);
    bad[13] = 0;
    reseal(bad, n);
    raw_put(bad, n);
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_CORRUPT);
    memcpy(bad, good, n);
    bad[15] = 56;
    reseal(bad, n);
    raw_put(bad, n);
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_CORRUPT);
    ck_assert_int_eq(signer_persist(st, &next, errmsg), TDEI_CORRUPT);
    memcpy(bad, good, n);
    bad[16 + 57 + 64] = 2; /* the nil flag */
    reseal(bad, n);
    raw_put(bad, n);
    ck_assert_int_eq(signer_load(st, &got, errmsg), TDEI_CORRUPT);
    ck_assert_ptr_nonnull(strstr(errmsg, "nil flag is 2"));

    /* Restored: the guard works again. */
    raw_put(good, n);
    stored_is(&last);
    persist_ok(&next);
    stored_is(&next);
}
END_TEST

START_TEST(test_signer_every_flipped_byte_is_corrupt)
{
    const struct cons_signed r =
        rec_make(99, 4, CONS_STEP_PROPOSE, 59, 0x0f, 0xf0);
    uint8_t buf[SIGNER_RECORD_SIZE_MAX];
    struct cons_signed got;
    size_t n = signer_record_encode(buf, &r);

    for (size_t i = 0; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            ck_assert_int_eq(signer_record_decode(&got, buf, n, errmsg),
                             TDEI_CORRUPT);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    ck_assert_int_eq(signer_record_decode(&got, buf, n, errmsg), 0);
    ck_assert_int_eq(signer_record_decode(&got, buf, 0, errmsg), TDEI_CORRUPT);
    ck_assert_int_eq(
        signer_record_decode(&got, buf, SIGNER_RECORD_SIZE_MAX + 1, errmsg),
        TDEI_CORRUPT);
}
END_TEST

static Suite *signer_suite(void)
{
    Suite *s = suite_create("signer");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"layout", test_signer_layout_matches_header_example},
        {"round_trip", test_signer_round_trip_and_none_before},
        {"forward", test_signer_moves_forward},
        {"backwards", test_signer_refuses_backwards_and_keeps_the_record},
        {"double_sign", test_signer_refuses_a_double_sign_and_keeps_the_record},
        {"race", test_signer_racing_persists_one_wins},
        {"reopen", test_signer_survives_close_and_reopen},
        {"damaged", test_signer_damaged_record_is_corrupt},
        {"flipped", test_signer_every_flipped_byte_is_corrupt},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(signer_suite()); }
