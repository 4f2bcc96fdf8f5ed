/* Tests of the classify contract, run over the in-memory state: raises and
 * domain changes applied at once, lowerings kept pending until a
 * public_service member approves them, a raise clearing a pending
 * lowering, and each refusal code with its reason. */
#include "entry_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/codec.h"
#include "core/error.h"

#include <string.h>

static int set_op(const char *member, uint64_t height, const char *id,
                  uint32_t level, uint32_t data_class, uint32_t domain)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ClassifySet c = TDEI__CLASSIFY_SET__INIT;

    c.id = (char *)id;
    c.level = level;
    c.data_class = data_class;
    c.domain = domain;
    body.op_case = TDEI__TX_BODY__OP_CLASSIFY_SET;
    body.classify_set = &c;
    return fx_run(member, height, &body);
}

static int approve_op(const char *member, uint64_t height, const char *id)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__ClassifyApprove a = TDEI__CLASSIFY_APPROVE__INIT;

    a.id = (char *)id;
    body.op_case = TDEI__TX_BODY__OP_CLASSIFY_APPROVE;
    body.classify_approve = &a;
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

/* Assert entry @id's labels and pending fields. */
static void assert_labels(const char *id, uint32_t level, uint32_t data_class,
                          uint32_t domain, uint32_t p_level, uint32_t p_class,
                          uint32_t p_domain)
{
    Tdei__Dataset *d = fx_dataset(id);

    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->level, level);
    ck_assert_uint_eq(d->data_class, data_class);
    ck_assert_uint_eq(d->domain, domain);
    ck_assert_uint_eq(d->pending_level, p_level);
    ck_assert_uint_eq(d->pending_class, p_class);
    ck_assert_uint_eq(d->pending_domain, p_domain);
    /* Labels never move the owner. */
    ck_assert_str_eq(d->owner, "acme-steel");
    codec_dataset_free(d);
}

static uint64_t updated_height(const char *id)
{
    Tdei__Dataset *d = fx_dataset(id);
    uint64_t h = d->updated_height;

    codec_dataset_free(d);
    return h;
}

static void assert_reason_has(const char *text)
{
    ck_assert_msg(strstr(fx_ctx.reason, text) != NULL,
                  "reason \"%s\" lacks \"%s\"", fx_ctx.reason, text);
}

#define PROD CODEC_DOMAIN_PRODUCTION
#define GEN CODEC_CLASS_GENERAL
#define IMP CODEC_CLASS_IMPORTANT
#define CORE CODEC_CLASS_CORE

/* ---- set ----------------------------------------------------------------- */

START_TEST(test_classify_raise_applies_at_once)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1, GEN, 0);
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 2, IMP, 0), 0);
    ck_assert_uint_eq(fx_ctx.event_count, 1);
    ck_assert_str_eq(fx_event_type(0), "classify.set");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "level"), "2");
    ck_assert_str_eq(fx_event_attr(0, "class"), "important");
    ck_assert_str_eq(fx_event_attr(0, "domain"), "unchanged");
    ck_assert(fx_touched_member("acme-steel"));
    ck_assert(fx_touched_entry("furnace-temps"));
    /* Domain 0 keeps the domain. */
    assert_labels("furnace-temps", 2, IMP, PROD, 0, 0, 0);
    ck_assert_uint_eq(updated_height("furnace-temps"), 8);
    ck_assert_int_eq(
        set_op("acme-steel", 9, "furnace-temps", 3, CORE, CODEC_DOMAIN_RD), 0);
    ck_assert_str_eq(fx_event_attr(0, "domain"), "rd");
    assert_labels("furnace-temps", 3, CORE, CODEC_DOMAIN_RD, 0, 0, 0);
}
END_TEST

START_TEST(test_classify_domain_change_alone_applies_at_once)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 2, IMP, 0);
    ck_assert_int_eq(
        set_op("acme-steel", 8, "furnace-temps", 2, IMP, CODEC_DOMAIN_EXTERNAL),
        0);
    ck_assert_str_eq(fx_event_type(0), "classify.set");
    ck_assert_str_eq(fx_event_attr(0, "domain"), "external");
    assert_labels("furnace-temps", 2, IMP, CODEC_DOMAIN_EXTERNAL, 0, 0, 0);
}
END_TEST

START_TEST(test_classify_lowering_waits_for_public_service_approval)
{
    uint64_t total;

    fx_seed();
    total = fx_total_credits();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 3, CORE,
               0);
    /* Lowering: accepted as a request, labels unchanged. */
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 2, IMP,
                            CODEC_DOMAIN_MANAGEMENT),
                     0);
    ck_assert_uint_eq(fx_ctx.event_count, 1);
    ck_assert_str_eq(fx_event_type(0), "classify.lowering_requested");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "level"), "2");
    ck_assert_str_eq(fx_event_attr(0, "class"), "important");
    ck_assert_str_eq(fx_event_attr(0, "domain"), "management");
    assert_labels("furnace-temps", 3, CORE, PROD, 2, IMP,
                  CODEC_DOMAIN_MANAGEMENT);
    /* The regulator approves: the pending labels apply. */
    ck_assert_int_eq(approve_op("pub-svc", 9, "furnace-temps"), 0);
    ck_assert_uint_eq(fx_ctx.event_count, 1);
    ck_assert_str_eq(fx_event_type(0), "classify.approved");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "pub-svc");
    ck_assert_str_eq(fx_event_attr(0, "level"), "2");
    ck_assert_str_eq(fx_event_attr(0, "class"), "important");
    ck_assert_str_eq(fx_event_attr(0, "domain"), "management");
    ck_assert(fx_touched_member("pub-svc"));
    ck_assert(fx_touched_entry("furnace-temps"));
    assert_labels("furnace-temps", 2, IMP, CODEC_DOMAIN_MANAGEMENT, 0, 0, 0);
    ck_assert_uint_eq(updated_height("furnace-temps"), 9);
    /* Nothing left to approve. */
    ck_assert_int_eq(approve_op("pub-svc", 10, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
    ck_assert_uint_eq(fx_total_credits(), total);
}
END_TEST

START_TEST(test_classify_lowering_without_approval_stays_pending)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 2, IMP, 0);
    /* Class down alone is a lowering; domain 0 is kept at approval. */
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 2, GEN, 0), 0);
    ck_assert_str_eq(fx_event_type(0), "classify.lowering_requested");
    ck_assert_str_eq(fx_event_attr(0, "domain"), "unchanged");
    assert_labels("furnace-temps", 2, IMP, PROD, 2, GEN, 0);
    /* Neither the owner nor another member approves it. */
    ck_assert_int_eq(approve_op("acme-steel", 9, "furnace-temps"), TDEI_ROLE);
    ck_assert_str_eq(fx_ctx.reason,
                     "classify_approve furnace-temps: lowering needs a "
                     "public_service approval; acme-steel is manufacturer");
    ck_assert_int_eq(approve_op("beta-works", 9, "furnace-temps"), TDEI_ROLE);
    assert_labels("furnace-temps", 2, IMP, PROD, 2, GEN, 0);
    /* A newer lowering replaces the older one. */
    ck_assert_int_eq(
        set_op("acme-steel", 10, "furnace-temps", 1, GEN, CODEC_DOMAIN_RD), 0);
    assert_labels("furnace-temps", 2, IMP, PROD, 1, GEN, CODEC_DOMAIN_RD);
    ck_assert_int_eq(approve_op("pub-svc", 11, "furnace-temps"), 0);
    assert_labels("furnace-temps", 1, GEN, CODEC_DOMAIN_RD, 0, 0, 0);
}
END_TEST

START_TEST(test_classify_raise_clears_a_pending_lowering)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 2, IMP, 0);
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 1, GEN, 0), 0);
    assert_labels("furnace-temps", 2, IMP, PROD, 1, GEN, 0);
    ck_assert_int_eq(set_op("acme-steel", 9, "furnace-temps", 3, IMP, 0), 0);
    ck_assert_str_eq(fx_event_type(0), "classify.set");
    assert_labels("furnace-temps", 3, IMP, PROD, 0, 0, 0);
    ck_assert_int_eq(approve_op("pub-svc", 10, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
    assert_labels("furnace-temps", 3, IMP, PROD, 0, 0, 0);
}
END_TEST

START_TEST(test_classify_set_refused_for_an_unknown_entry)
{
    fx_seed();
    ck_assert_int_eq(set_op("acme-steel", 8, "no-such-entry", 2, IMP, 0),
                     TDEI_UNKNOWN_DATASET);
    assert_reason_has("classify_set no-such-entry: no catalog entry");
    ck_assert(fx_touched_member("acme-steel"));
    ck_assert(!fx_touched_entry("no-such-entry"));
    ck_assert_ptr_null(fx_dataset("no-such-entry"));
}
END_TEST

START_TEST(test_classify_set_refused_for_a_non_owner)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 2, IMP, 0);
    ck_assert_int_eq(set_op("beta-works", 8, "furnace-temps", 3, IMP, 0),
                     TDEI_NOT_OWNER);
    ck_assert_str_eq(fx_ctx.reason, "classify_set furnace-temps: only its "
                                    "owner acme-steel sets labels");
    ck_assert(fx_touched_entry("furnace-temps"));
    /* A public_service member approves, never sets. */
    ck_assert_int_eq(set_op("pub-svc", 8, "furnace-temps", 1, GEN, 0),
                     TDEI_NOT_OWNER);
    assert_reason_has("a public_service member approves a lowering");
    ck_assert_int_eq(set_op("audit-co", 8, "furnace-temps", 3, IMP, 0),
                     TDEI_NOT_OWNER);
    assert_labels("furnace-temps", 2, IMP, PROD, 0, 0, 0);
    ck_assert_uint_eq(updated_height("furnace-temps"), 5);
}
END_TEST

START_TEST(test_classify_set_refused_for_a_withdrawn_entry)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 2, IMP, 0);
    ck_assert_int_eq(withdraw_op("acme-steel", 6, "furnace-temps"), 0);
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 3, IMP, 0),
                     TDEI_DATASET_STATE);
    assert_reason_has("classify_set furnace-temps: the entry is withdrawn");
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 1, GEN, 0),
                     TDEI_DATASET_STATE);
    assert_labels("furnace-temps", 2, IMP, PROD, 0, 0, 0);
}
END_TEST

/* ---- approve ------------------------------------------------------------- */

START_TEST(test_classify_approve_refused_for_other_roles)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 3, CORE,
               0);
    ck_assert_int_eq(set_op("acme-steel", 8, "furnace-temps", 3, IMP, 0), 0);
    ck_assert_int_eq(approve_op("audit-co", 9, "furnace-temps"), TDEI_ROLE);
    ck_assert_str_eq(fx_ctx.reason,
                     "classify_approve furnace-temps: lowering needs a "
                     "public_service approval; audit-co is auditor");
    ck_assert(fx_touched_member("audit-co"));
    ck_assert(!fx_touched_entry("furnace-temps"));
    ck_assert_int_eq(approve_op("gamma-co", 9, "furnace-temps"), TDEI_ROLE);
    assert_labels("furnace-temps", 3, CORE, PROD, 3, IMP, 0);
}
END_TEST

START_TEST(test_classify_approve_refused_for_an_unknown_entry)
{
    fx_seed();
    ck_assert_int_eq(approve_op("pub-svc", 9, "no-such-entry"),
                     TDEI_UNKNOWN_DATASET);
    assert_reason_has("classify_approve no-such-entry: no catalog entry");
}
END_TEST

START_TEST(test_classify_approve_refused_with_nothing_pending)
{
    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 2, IMP, 0);
    ck_assert_int_eq(approve_op("pub-svc", 9, "furnace-temps"),
                     TDEI_NOTHING_PENDING);
    ck_assert_str_eq(fx_ctx.reason,
                     "classify_approve furnace-temps: no lowering is pending; "
                     "the owner asks for one with classify_set");
    ck_assert(fx_touched_entry("furnace-temps"));
    assert_labels("furnace-temps", 2, IMP, PROD, 0, 0, 0);
    ck_assert_uint_eq(updated_height("furnace-temps"), 5);
}
END_TEST

static Suite *classify_suite(void)
{
    Suite *s = suite_create("classify");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"raise", test_classify_raise_applies_at_once},
        {"domain", test_classify_domain_change_alone_applies_at_once},
        {"lower_approved",
         test_classify_lowering_waits_for_public_service_approval},
        {"lower_pending",
         test_classify_lowering_without_approval_stays_pending},
        {"raise_clears", test_classify_raise_clears_a_pending_lowering},
        {"set_unknown", test_classify_set_refused_for_an_unknown_entry},
        {"set_not_owner", test_classify_set_refused_for_a_non_owner},
        {"set_withdrawn", test_classify_set_refused_for_a_withdrawn_entry},
        {"approve_role", test_classify_approve_refused_for_other_roles},
        {"approve_unknown", test_classify_approve_refused_for_an_unknown_entry},
        {"approve_nothing", test_classify_approve_refused_with_nothing_pending},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(classify_suite()); }
