/* Tests of the ownership contract, run over the in-memory state: offer and
 * acceptance move the one owner, a new offer replaces the old one,
 * cancellation, the new owner's rights, and each refusal code with its
 * reason. */
#include "entry_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/codec.h"
#include "core/error.h"

#include <string.h>

static int offer_op(const char *member, uint64_t height, const char *id,
                    const char *to)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__OwnershipOffer o = TDEI__OWNERSHIP_OFFER__INIT;

    o.id = (char *)id;
    o.to = (char *)to;
    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_OFFER;
    body.ownership_offer = &o;
    return fx_run(member, height, &body);
}

static int accept_op(const char *member, uint64_t height, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__OwnershipAccept a = TDEI__OWNERSHIP_ACCEPT__INIT;

    a.id = (char *)id;
    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT;
    body.ownership_accept = &a;
    return fx_run(member, height, &body);
}

static int cancel_op(const char *member, uint64_t height, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__OwnershipCancel c = TDEI__OWNERSHIP_CANCEL__INIT;

    c.id = (char *)id;
    body.op_case = TDEI__TX_BODY__OP_OWNERSHIP_CANCEL;
    body.ownership_cancel = &c;
    return fx_run(member, height, &body);
}

static int withdraw_op(const char *member, uint64_t height, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogWithdraw w = TDEI__CATALOG_WITHDRAW__INIT;

    w.id = (char *)id;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_WITHDRAW;
    body.catalog_withdraw = &w;
    return fx_run(member, height, &body);
}

/* Assert entry @id's owner, open offer and publisher (always the first
 * owner), and that the owner is one active member that is not an
 * auditor. */
static void assert_owner(const char *id, const char *owner,
                         const char *offer_to)
{
    Tdei__Dataset *d = fx_dataset(id);
    int known = 0;

    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->owner, owner);
    ck_assert_str_eq(d->offer_to, offer_to);
    ck_assert_str_eq(d->publisher, "acme-steel");
    ck_assert_str_ne(d->owner, "audit-co");
    for (size_t i = 0; i < FX_MEMBERS; i++) {
        known += strcmp(fx_members[i], d->owner) == 0;
    }
    ck_assert_int_eq(known, 1);
    codec_dataset_free(d);
}

static void assert_reason_has(const char *text)
{
    ck_assert_msg(strstr(fx_ctx.reason, text) != NULL,
                  "reason \"%s\" lacks \"%s\"", fx_ctx.reason, text);
}

static void publish_default(void)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
}

/* ---- success ------------------------------------------------------------- */

START_TEST(test_ownership_offer_and_accept_move_the_one_owner)
{
    Tdei__Dataset *d;
    uint64_t total;

    publish_default();
    total = fx_total_credits();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     0);
    ck_assert_uint_eq(fx_ctx.event_count, 1);
    ck_assert_str_eq(fx_event_type(0), "ownership.offered");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "to"), "beta-works");
    ck_assert(fx_touched_member("acme-steel"));
    ck_assert(fx_touched_entry("furnace-temps"));
    ck_assert(fx_touched_member("beta-works"));
    /* An offer moves nothing yet. */
    assert_owner("furnace-temps", "acme-steel", "beta-works");

    ck_assert_int_eq(accept_op("beta-works", 9, "furnace-temps"), 0);
    ck_assert_uint_eq(fx_ctx.event_count, 1);
    ck_assert_str_eq(fx_event_type(0), "ownership.accepted");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "beta-works");
    ck_assert_str_eq(fx_event_attr(0, "from"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "to"), "beta-works");
    ck_assert(fx_touched_member("beta-works"));
    ck_assert(fx_touched_entry("furnace-temps"));
    ck_assert(fx_touched_member("acme-steel"));
    assert_owner("furnace-temps", "beta-works", "");
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->version, 1);
    ck_assert_uint_eq(d->status, CODEC_DATASET_ACTIVE);
    ck_assert_uint_eq(d->created_height, 5);
    ck_assert_uint_eq(d->updated_height, 9);
    codec_dataset_free(d);
    /* A transfer moves no credits. */
    ck_assert_uint_eq(fx_total_credits(), total);
}
END_TEST

START_TEST(test_ownership_new_owner_holds_the_rights)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     0);
    ck_assert_int_eq(accept_op("beta-works", 9, "furnace-temps"), 0);
    /* The former owner lost every owner right. */
    ck_assert_int_eq(offer_op("acme-steel", 10, "furnace-temps", "gamma-co"),
                     TDEI_NOT_OWNER);
    assert_reason_has("only its owner beta-works");
    ck_assert_int_eq(withdraw_op("acme-steel", 10, "furnace-temps"),
                     TDEI_NOT_OWNER);
    /* The new owner offers it on, even back. */
    ck_assert_int_eq(offer_op("beta-works", 10, "furnace-temps", "acme-steel"),
                     0);
    ck_assert_int_eq(accept_op("acme-steel", 11, "furnace-temps"), 0);
    assert_owner("furnace-temps", "acme-steel", "");
    ck_assert_int_eq(withdraw_op("acme-steel", 12, "furnace-temps"), 0);
}
END_TEST

START_TEST(test_ownership_new_offer_replaces_the_old_one)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     0);
    ck_assert_int_eq(offer_op("acme-steel", 9, "furnace-temps", "gamma-co"), 0);
    assert_owner("furnace-temps", "acme-steel", "gamma-co");
    ck_assert_int_eq(accept_op("beta-works", 10, "furnace-temps"),
                     TDEI_NOT_PARTY);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_accept furnace-temps: the open offer is to "
                     "gamma-co, not beta-works; only gamma-co accepts it");
    assert_owner("furnace-temps", "acme-steel", "gamma-co");
    ck_assert_int_eq(accept_op("gamma-co", 10, "furnace-temps"), 0);
    assert_owner("furnace-temps", "gamma-co", "");
}
END_TEST

START_TEST(test_ownership_cancel_clears_the_offer)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     0);
    ck_assert_int_eq(cancel_op("acme-steel", 9, "furnace-temps"), 0);
    ck_assert_uint_eq(fx_ctx.event_count, 1);
    ck_assert_str_eq(fx_event_type(0), "ownership.canceled");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "to"), "beta-works");
    ck_assert(fx_touched_entry("furnace-temps"));
    assert_owner("furnace-temps", "acme-steel", "");
    ck_assert_int_eq(accept_op("beta-works", 10, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

/* ---- offer refusals ------------------------------------------------------ */

START_TEST(test_ownership_offer_refused_unknown_or_not_owner)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "no-such-entry", "beta-works"),
                     TDEI_UNKNOWN_DATASET);
    assert_reason_has("ownership_offer no-such-entry: no catalog entry");
    ck_assert(!fx_touched_member("beta-works"));
    ck_assert_int_eq(offer_op("beta-works", 8, "furnace-temps", "beta-works"),
                     TDEI_NOT_OWNER);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_offer furnace-temps: only its owner "
                     "acme-steel may do this; beta-works is not the owner");
    ck_assert_int_eq(offer_op("audit-co", 8, "furnace-temps", "audit-co"),
                     TDEI_NOT_OWNER);
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

START_TEST(test_ownership_offer_refused_for_a_withdrawn_entry)
{
    publish_default();
    ck_assert_int_eq(withdraw_op("acme-steel", 6, "furnace-temps"), 0);
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     TDEI_DATASET_STATE);
    assert_reason_has("ownership_offer furnace-temps: the entry is withdrawn");
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

START_TEST(test_ownership_offer_refused_for_an_unknown_member)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "nobody-co"),
                     TDEI_UNKNOWN_MEMBER);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_offer furnace-temps to nobody-co: no such "
                     "member; check the member id");
    ck_assert(!fx_touched_member("nobody-co"));
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

START_TEST(test_ownership_offer_refused_for_an_inactive_member)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "sleepy-co"),
                     TDEI_MEMBER_INACTIVE);
    assert_reason_has("to sleepy-co: the member is suspended");
    ck_assert(fx_touched_member("sleepy-co"));
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "gone-co"),
                     TDEI_MEMBER_INACTIVE);
    assert_reason_has("to gone-co: the member is removed");
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

START_TEST(test_ownership_offer_refused_to_the_owner)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "acme-steel"),
                     TDEI_SELF_TRANSFER);
    assert_reason_has("acme-steel already owns it");
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

START_TEST(test_ownership_offer_refused_to_an_auditor)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "audit-co"),
                     TDEI_ROLE);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_offer furnace-temps to audit-co: the member "
                     "is an auditor, and auditors never own entries");
    assert_owner("furnace-temps", "acme-steel", "");
    /* An auditor cannot take an entry either way. */
    ck_assert_int_eq(accept_op("audit-co", 9, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
}
END_TEST

/* ---- accept refusals ----------------------------------------------------- */

START_TEST(test_ownership_accept_refused_unknown_or_nothing_pending)
{
    publish_default();
    ck_assert_int_eq(accept_op("beta-works", 9, "no-such-entry"),
                     TDEI_UNKNOWN_DATASET);
    ck_assert_int_eq(accept_op("beta-works", 9, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_accept furnace-temps: no offer is open; the "
                     "owner acme-steel offers it with ownership_offer");
    ck_assert(fx_touched_entry("furnace-temps"));
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

START_TEST(test_ownership_accept_refused_for_another_member)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     0);
    ck_assert_int_eq(accept_op("gamma-co", 9, "furnace-temps"), TDEI_NOT_PARTY);
    ck_assert_int_eq(accept_op("audit-co", 9, "furnace-temps"), TDEI_NOT_PARTY);
    /* Not even the owner accepts its own offer. */
    ck_assert_int_eq(accept_op("acme-steel", 9, "furnace-temps"),
                     TDEI_NOT_PARTY);
    assert_owner("furnace-temps", "acme-steel", "beta-works");
}
END_TEST

START_TEST(test_ownership_accept_refused_for_a_member_suspended_since)
{
    publish_default();
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "gamma-co"), 0);
    /* gamma-co is suspended after the offer (execution refuses txs of
     * inactive members; the contract checks again). */
    fx_member_status_set("gamma-co", CODEC_MEMBER_SUSPENDED);
    ck_assert_int_eq(accept_op("gamma-co", 9, "furnace-temps"),
                     TDEI_MEMBER_INACTIVE);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_accept furnace-temps: gamma-co is suspended; "
                     "only an active member takes ownership");
    assert_owner("furnace-temps", "acme-steel", "gamma-co");
    /* The owner cancels the stale offer. */
    ck_assert_int_eq(cancel_op("acme-steel", 10, "furnace-temps"), 0);
    assert_owner("furnace-temps", "acme-steel", "");
}
END_TEST

/* ---- cancel refusals ----------------------------------------------------- */

START_TEST(test_ownership_cancel_refusals)
{
    publish_default();
    ck_assert_int_eq(cancel_op("acme-steel", 8, "no-such-entry"),
                     TDEI_UNKNOWN_DATASET);
    ck_assert_int_eq(cancel_op("acme-steel", 8, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
    ck_assert_str_eq(fx_ctx.reason,
                     "ownership_cancel furnace-temps: no offer is open");
    ck_assert_int_eq(offer_op("acme-steel", 8, "furnace-temps", "beta-works"),
                     0);
    /* The member offered declines by not accepting: it cannot cancel. */
    ck_assert_int_eq(cancel_op("beta-works", 9, "furnace-temps"),
                     TDEI_NOT_OWNER);
    assert_owner("furnace-temps", "acme-steel", "beta-works");
}
END_TEST

static Suite *ownership_suite(void)
{
    Suite *s = suite_create("ownership");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"transfer", test_ownership_offer_and_accept_move_the_one_owner},
        {"rights", test_ownership_new_owner_holds_the_rights},
        {"replace", test_ownership_new_offer_replaces_the_old_one},
        {"cancel", test_ownership_cancel_clears_the_offer},
        {"offer_owner", test_ownership_offer_refused_unknown_or_not_owner},
        {"offer_withdrawn", test_ownership_offer_refused_for_a_withdrawn_entry},
        {"offer_unknown", test_ownership_offer_refused_for_an_unknown_member},
        {"offer_inactive", test_ownership_offer_refused_for_an_inactive_member},
        {"offer_self", test_ownership_offer_refused_to_the_owner},
        {"offer_auditor", test_ownership_offer_refused_to_an_auditor},
        {"accept_nothing",
         test_ownership_accept_refused_unknown_or_nothing_pending},
        {"accept_party", test_ownership_accept_refused_for_another_member},
        {"accept_inactive",
         test_ownership_accept_refused_for_a_member_suspended_since},
        {"cancel_refusals", test_ownership_cancel_refusals},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(ownership_suite()); }
