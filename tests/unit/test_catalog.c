/* Tests of the catalog contract, run over the in-memory state: publish of
 * a dataset and a stream with the records it writes, lineage (owner,
 * settled grant with and without may_derive, no grant), versions linked
 * by prev_root, withdraw and reprice, each refusal code with its reason,
 * and history touches. */
#include "entry_fixture.h"
#include "testutil.h"

#include "contracts/contract.h"
#include "core/codec.h"
#include "core/error.h"

#include <string.h>

/* ---- op helpers ---------------------------------------------------------- */

static int version_op(const char *member, uint64_t height, const char *id,
                      uint8_t *root, uint64_t size, const char *schema)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogVersion v = TDEI__CATALOG_VERSION__INIT;

    v.id = (char *)id;
    v.content_root = (ProtobufCBinaryData){32, root};
    v.size = size;
    v.schema = (char *)schema;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_VERSION;
    body.catalog_version = &v;
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

static int reprice_op(const char *member, uint64_t height, const char *id,
                      uint32_t model, uint64_t amount, uint64_t period,
                      int may_derive)
{
    Tdei__TxBody body = TDEI__TX_BODY__INIT;
    Tdei__CatalogReprice r = TDEI__CATALOG_REPRICE__INIT;
    Tdei__PriceTerms price = TDEI__PRICE_TERMS__INIT;
    Tdei__License license = TDEI__LICENSE__INIT;

    price.model = model;
    price.amount = amount;
    price.period = period;
    license.may_derive = may_derive;
    license.may_resell = 1;
    r.id = (char *)id;
    r.price = &price;
    r.license = &license;
    body.op_case = TDEI__TX_BODY__OP_CATALOG_REPRICE;
    body.catalog_reprice = &r;
    return fx_run(member, height, &body);
}

/* Publish @id by @member at height 9 naming @parents (@n of them). */
static int publish_derived(const char *member, const char *id, char **parents,
                           size_t n)
{
    Tdei__CatalogPublish p;
    Tdei__PriceTerms price;

    fx_publish_init(&p, &price, id, CODEC_KIND_DATASET);
    p.parents = parents;
    p.n_parents = n;
    return fx_publish_op(member, 9, &p);
}

static void assert_reason_has(const char *text)
{
    ck_assert_msg(strstr(fx_ctx.reason, text) != NULL,
                  "reason \"%s\" lacks \"%s\"", fx_ctx.reason, text);
}

/* ---- publish ------------------------------------------------------------- */

START_TEST(test_catalog_publish_dataset_writes_entry_and_version_1)
{
    Tdei__CatalogPublish p;
    Tdei__PriceTerms price;
    Tdei__Dataset *d;
    Tdei__DatasetVersion *v;
    uint64_t total;

    fx_seed();
    total = fx_total_credits();
    fx_publish_init(&p, &price, "furnace-temps", CODEC_KIND_DATASET);
    ck_assert_int_eq(fx_publish_op("acme-steel", 5, &p), 0);
    ck_assert_str_eq(fx_event_type(0), "catalog.published");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "kind"), "dataset");
    ck_assert_str_eq(fx_event_attr(0, "parents"), "0");
    ck_assert(fx_touched_member("acme-steel"));
    ck_assert(fx_touched_entry("furnace-temps"));

    d = fx_dataset("furnace-temps");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->id, "furnace-temps");
    ck_assert_uint_eq(d->kind, CODEC_KIND_DATASET);
    ck_assert_str_eq(d->title, "Furnace temperatures");
    ck_assert_uint_eq(d->n_tags, 1);
    ck_assert_str_eq(d->tags[0], "steel");
    ck_assert_uint_eq(d->domain, CODEC_DOMAIN_PRODUCTION);
    ck_assert_uint_eq(d->level, 1);
    ck_assert_uint_eq(d->data_class, CODEC_CLASS_GENERAL);
    ck_assert_str_eq(d->schema, "csv:v1");
    ck_assert_uint_eq(d->price->model, CODEC_PRICE_ONE_TIME);
    ck_assert_uint_eq(d->price->amount, 100);
    ck_assert_ptr_null(d->license);
    ck_assert_uint_eq(d->n_parents, 0);
    ck_assert_mem_eq(d->content_root.data, fx_root1, 32);
    ck_assert_uint_eq(d->size, 4096);
    ck_assert_str_eq(d->owner, "acme-steel");
    ck_assert_str_eq(d->publisher, "acme-steel");
    ck_assert_uint_eq(d->version, 1);
    ck_assert_uint_eq(d->status, CODEC_DATASET_ACTIVE);
    ck_assert_uint_eq(d->created_height, 5);
    ck_assert_uint_eq(d->updated_height, 5);
    ck_assert_str_eq(d->offer_to, "");
    ck_assert_uint_eq(d->pending_level, 0);
    ck_assert_uint_eq(d->pending_class, 0);
    ck_assert_uint_eq(d->pending_domain, 0);
    codec_dataset_free(d);

    v = fx_version("furnace-temps", 1);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(v->version, 1);
    ck_assert_mem_eq(v->content_root.data, fx_root1, 32);
    ck_assert_uint_eq(v->size, 4096);
    ck_assert_str_eq(v->schema, "csv:v1");
    ck_assert_uint_eq(v->height, 5);
    ck_assert_uint_eq(v->prev_root.len, 0);
    codec_dataset_version_free(v);
    ck_assert_ptr_null(fx_version("furnace-temps", 2));
    /* Publishing moves no credits. */
    ck_assert_uint_eq(fx_total_credits(), total);
}
END_TEST

START_TEST(test_catalog_publish_stream_writes_no_version)
{
    Tdei__CatalogPublish p;
    Tdei__PriceTerms price;
    Tdei__Dataset *d;

    fx_seed();
    fx_publish_init(&p, &price, "line-3-vibration", CODEC_KIND_STREAM);
    ck_assert_int_eq(fx_publish_op("beta-works", 6, &p), 0);
    ck_assert_str_eq(fx_event_attr(0, "kind"), "stream");
    d = fx_dataset("line-3-vibration");
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->kind, CODEC_KIND_STREAM);
    ck_assert_str_eq(d->owner, "beta-works");
    ck_assert_str_eq(d->publisher, "beta-works");
    ck_assert_uint_eq(d->version, 1);
    ck_assert_uint_eq(d->status, CODEC_DATASET_ACTIVE);
    ck_assert_uint_eq(d->content_root.len, 0);
    ck_assert_uint_eq(d->size, 0);
    ck_assert_uint_eq(d->price->model, CODEC_PRICE_PER_RECORD);
    ck_assert_uint_eq(d->price->amount, 2);
    codec_dataset_free(d);
    ck_assert_ptr_null(fx_version("line-3-vibration", 1));
}
END_TEST

START_TEST(test_catalog_publish_refused_for_auditor)
{
    Tdei__CatalogPublish p;
    Tdei__PriceTerms price;

    fx_seed();
    fx_publish_init(&p, &price, "audit-notes", CODEC_KIND_DATASET);
    ck_assert_int_eq(fx_publish_op("audit-co", 5, &p), TDEI_ROLE);
    assert_reason_has("audit-co is an auditor");
    ck_assert(fx_touched_member("audit-co"));
    ck_assert(!fx_touched_entry("audit-notes"));
    ck_assert_ptr_null(fx_dataset("audit-notes"));
    ck_assert_ptr_null(fx_version("audit-notes", 1));
}
END_TEST

START_TEST(test_catalog_publish_refused_for_a_taken_id)
{
    Tdei__CatalogPublish p;
    Tdei__PriceTerms price;
    Tdei__Dataset *d;

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    fx_publish_init(&p, &price, "furnace-temps", CODEC_KIND_STREAM);
    p.title = (char *)"Another";
    ck_assert_int_eq(fx_publish_op("beta-works", 6, &p), TDEI_DATASET_EXISTS);
    assert_reason_has("the id furnace-temps is taken");
    /* Refused before the entry is known to be the publisher's: the
     * existing entry's history is not extended. */
    ck_assert(!fx_touched_entry("furnace-temps"));
    /* Even a withdrawn entry keeps its id. */
    ck_assert_int_eq(withdraw_op("acme-steel", 7, "furnace-temps"), 0);
    ck_assert_int_eq(fx_publish_op("acme-steel", 8, &p), TDEI_DATASET_EXISTS);
    d = fx_dataset("furnace-temps");
    ck_assert_str_eq(d->title, "Furnace temperatures");
    ck_assert_str_eq(d->owner, "acme-steel");
    ck_assert_uint_eq(d->kind, CODEC_KIND_DATASET);
    ck_assert_uint_eq(d->status, CODEC_DATASET_WITHDRAWN);
    codec_dataset_free(d);
}
END_TEST

/* ---- lineage ------------------------------------------------------------- */

START_TEST(test_catalog_lineage_accepted_with_settled_grant_and_may_derive)
{
    struct state *s = fx_seed_begin();
    char *parents[] = {(char *)"furnace-temps"};
    Tdei__Dataset *d;

    fx_grant_seed(s, "furnace-temps", "acme-steel", "beta-works",
                  CODEC_EXCHANGE_SETTLED, 1);
    fixture_seed_end(s);
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 1);
    ck_assert_int_eq(publish_derived("beta-works", "furnace-model", parents, 1),
                     0);
    ck_assert_str_eq(fx_event_attr(0, "parents"), "1");
    d = fx_dataset("furnace-model");
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->owner, "beta-works");
    ck_assert_str_eq(d->publisher, "beta-works");
    ck_assert_uint_eq(d->n_parents, 1);
    ck_assert_str_eq(d->parents[0], "furnace-temps");
    codec_dataset_free(d);
    /* The parent is read, not changed. */
    ck_assert(!fx_touched_entry("furnace-temps"));
    d = fx_dataset("furnace-temps");
    ck_assert_str_eq(d->owner, "acme-steel");
    ck_assert_uint_eq(d->updated_height, 5);
    codec_dataset_free(d);
}
END_TEST

START_TEST(test_catalog_lineage_accepted_when_the_publisher_owns_the_parent)
{
    char *parents[] = {(char *)"furnace-temps", (char *)"ladle-weights"};
    Tdei__Dataset *d;

    fx_seed();
    /* No may_derive, no grant: the owner derives freely. */
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    fx_publish("acme-steel", 6, "ladle-weights", CODEC_KIND_STREAM, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(publish_derived("acme-steel", "melt-summary", parents, 2),
                     0);
    d = fx_dataset("melt-summary");
    ck_assert_uint_eq(d->n_parents, 2);
    ck_assert_str_eq(d->parents[0], "furnace-temps");
    ck_assert_str_eq(d->parents[1], "ladle-weights");
    codec_dataset_free(d);
}
END_TEST

START_TEST(test_catalog_lineage_refused_for_a_missing_parent)
{
    char *parents[] = {(char *)"furnace-temps", (char *)"no-such-entry"};

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(publish_derived("acme-steel", "melt-summary", parents, 2),
                     TDEI_LINEAGE);
    assert_reason_has("parent no-such-entry is not in the catalog");
    ck_assert(!fx_touched_entry("melt-summary"));
    ck_assert_ptr_null(fx_dataset("melt-summary"));
    ck_assert_ptr_null(fx_version("melt-summary", 1));
}
END_TEST

START_TEST(test_catalog_lineage_refused_without_a_grant)
{
    char *parents[] = {(char *)"furnace-temps"};

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 1);
    ck_assert_int_eq(publish_derived("beta-works", "furnace-model", parents, 1),
                     TDEI_LINEAGE);
    ck_assert_str_eq(fx_ctx.reason,
                     "catalog_publish: parent furnace-temps: beta-works does "
                     "not own it (acme-steel does) and holds no grant on it; "
                     "request it and settle the exchange first");
    ck_assert_ptr_null(fx_dataset("furnace-model"));
}
END_TEST

START_TEST(test_catalog_lineage_refused_when_license_lacks_may_derive)
{
    struct state *s = fx_seed_begin();
    char *parents[] = {(char *)"furnace-temps"};

    fx_grant_seed(s, "furnace-temps", "acme-steel", "beta-works",
                  CODEC_EXCHANGE_SETTLED, 1);
    fixture_seed_end(s);
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(publish_derived("beta-works", "furnace-model", parents, 1),
                     TDEI_LINEAGE);
    ck_assert_str_eq(fx_ctx.reason,
                     "catalog_publish: parent furnace-temps: beta-works holds "
                     "a settled grant, but the parent's license does not "
                     "allow derivation (may_derive is false); ask its owner "
                     "acme-steel to allow it");
    ck_assert_ptr_null(fx_dataset("furnace-model"));
    /* A reprice that allows derivation lets the same grant derive. */
    ck_assert_int_eq(reprice_op("acme-steel", 8, "furnace-temps",
                                CODEC_PRICE_ONE_TIME, 100, 0, 1),
                     0);
    ck_assert_int_eq(publish_derived("beta-works", "furnace-model", parents, 1),
                     0);
}
END_TEST

START_TEST(test_catalog_lineage_refused_for_an_unsettled_grant)
{
    struct state *s = fx_seed_begin();
    char *parents[] = {(char *)"furnace-temps"};

    fx_grant_seed(s, "furnace-temps", "acme-steel", "beta-works",
                  CODEC_EXCHANGE_REVOKED, 1);
    fx_grant_seed(s, "furnace-temps", "acme-steel", "gamma-co",
                  CODEC_EXCHANGE_DELIVERED, 2);
    fixture_seed_end(s);
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 1);
    ck_assert_int_eq(publish_derived("beta-works", "furnace-model", parents, 1),
                     TDEI_LINEAGE);
    assert_reason_has("its latest exchange for it is revoked, not settled");
    ck_assert_int_eq(publish_derived("gamma-co", "furnace-model", parents, 1),
                     TDEI_LINEAGE);
    assert_reason_has("its latest exchange for it is delivered, not settled");
    ck_assert_ptr_null(fx_dataset("furnace-model"));
}
END_TEST

START_TEST(test_catalog_lineage_refused_when_both_grant_and_license_lack)
{
    char *parents[] = {(char *)"furnace-temps"};

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(publish_derived("gamma-co", "furnace-model", parents, 1),
                     TDEI_LINEAGE);
    assert_reason_has("holds no grant on it, and its license does not allow "
                      "derivation (may_derive is false)");
}
END_TEST

/* ---- version ------------------------------------------------------------- */

START_TEST(test_catalog_version_links_to_the_previous_root)
{
    Tdei__Dataset *d;
    Tdei__DatasetVersion *v;

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(
        version_op("acme-steel", 8, "furnace-temps", fx_root2, 8192, ""), 0);
    ck_assert_str_eq(fx_event_type(0), "catalog.versioned");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "version"), "2");
    ck_assert_str_eq(fx_event_attr(0, "root"),
                     "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2"
                     "b2b2b2b2");
    ck_assert(fx_touched_entry("furnace-temps"));
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->version, 2);
    ck_assert_mem_eq(d->content_root.data, fx_root2, 32);
    ck_assert_uint_eq(d->size, 8192);
    ck_assert_str_eq(d->schema, "csv:v1"); /* empty keeps it */
    ck_assert_uint_eq(d->created_height, 5);
    ck_assert_uint_eq(d->updated_height, 8);
    ck_assert_str_eq(d->owner, "acme-steel");
    ck_assert_uint_eq(d->status, CODEC_DATASET_ACTIVE);
    codec_dataset_free(d);
    v = fx_version("furnace-temps", 2);
    ck_assert_uint_eq(v->version, 2);
    ck_assert_mem_eq(v->content_root.data, fx_root2, 32);
    ck_assert_uint_eq(v->size, 8192);
    ck_assert_str_eq(v->schema, "csv:v1");
    ck_assert_uint_eq(v->height, 8);
    ck_assert_uint_eq(v->prev_root.len, 32);
    ck_assert_mem_eq(v->prev_root.data, fx_root1, 32);
    codec_dataset_version_free(v);

    ck_assert_int_eq(
        version_op("acme-steel", 9, "furnace-temps", fx_root3, 10, "csv:v2"),
        0);
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->version, 3);
    ck_assert_mem_eq(d->content_root.data, fx_root3, 32);
    ck_assert_uint_eq(d->size, 10);
    ck_assert_str_eq(d->schema, "csv:v2");
    codec_dataset_free(d);
    v = fx_version("furnace-temps", 3);
    ck_assert_mem_eq(v->prev_root.data, fx_root2, 32);
    ck_assert_str_eq(v->schema, "csv:v2");
    ck_assert_uint_eq(v->height, 9);
    codec_dataset_version_free(v);
    /* Earlier versions stay as written. */
    v = fx_version("furnace-temps", 1);
    ck_assert_mem_eq(v->content_root.data, fx_root1, 32);
    ck_assert_uint_eq(v->prev_root.len, 0);
    codec_dataset_version_free(v);
    /* Back to an older root is new content relative to the current one. */
    ck_assert_int_eq(
        version_op("acme-steel", 10, "furnace-temps", fx_root1, 4096, ""), 0);
    v = fx_version("furnace-temps", 4);
    ck_assert_mem_eq(v->prev_root.data, fx_root3, 32);
    codec_dataset_version_free(v);
}
END_TEST

START_TEST(test_catalog_version_refused_for_an_unknown_entry)
{
    fx_seed();
    ck_assert_int_eq(
        version_op("acme-steel", 8, "no-such-entry", fx_root2, 1, ""),
        TDEI_UNKNOWN_DATASET);
    assert_reason_has("catalog_version no-such-entry: no catalog entry");
    ck_assert(!fx_touched_entry("no-such-entry"));
    ck_assert_ptr_null(fx_version("no-such-entry", 2));
}
END_TEST

START_TEST(test_catalog_version_refused_for_a_non_owner)
{
    Tdei__Dataset *d;

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(
        version_op("beta-works", 8, "furnace-temps", fx_root2, 1, ""),
        TDEI_NOT_OWNER);
    ck_assert_str_eq(fx_ctx.reason,
                     "catalog_version furnace-temps: only its owner "
                     "acme-steel may do this; beta-works is not the owner");
    /* The attempt is in the entry's history. */
    ck_assert(fx_touched_entry("furnace-temps"));
    ck_assert_int_eq(
        version_op("audit-co", 8, "furnace-temps", fx_root2, 1, ""),
        TDEI_NOT_OWNER);
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->version, 1);
    ck_assert_mem_eq(d->content_root.data, fx_root1, 32);
    codec_dataset_free(d);
    ck_assert_ptr_null(fx_version("furnace-temps", 2));
}
END_TEST

START_TEST(test_catalog_version_refused_for_stream_withdrawn_or_same_root)
{
    Tdei__Dataset *d;

    fx_seed();
    fx_publish("acme-steel", 5, "ladle-weights", CODEC_KIND_STREAM, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(
        version_op("acme-steel", 8, "ladle-weights", fx_root2, 1, ""),
        TDEI_DATASET_STATE);
    assert_reason_has("the entry is a stream");
    fx_publish("acme-steel", 6, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(
        version_op("acme-steel", 8, "furnace-temps", fx_root1, 1, ""),
        TDEI_DATASET_STATE);
    assert_reason_has("the content root is the one of version 1");
    ck_assert_int_eq(withdraw_op("acme-steel", 9, "furnace-temps"), 0);
    ck_assert_int_eq(
        version_op("acme-steel", 10, "furnace-temps", fx_root2, 1, ""),
        TDEI_DATASET_STATE);
    assert_reason_has("the entry is withdrawn");
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->version, 1);
    codec_dataset_free(d);
    ck_assert_ptr_null(fx_version("furnace-temps", 2));
}
END_TEST

START_TEST(test_catalog_version_refused_at_the_last_version_number)
{
    Tdei__Dataset *d;

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    d = fx_dataset("furnace-temps");
    d->version = UINT64_MAX;
    fx_dataset_write(d);
    codec_dataset_free(d);
    ck_assert_int_eq(
        version_op("acme-steel", 8, "furnace-temps", fx_root2, 1, ""),
        TDEI_OVERFLOW);
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->version, UINT64_MAX);
    codec_dataset_free(d);
}
END_TEST

/* ---- withdraw ------------------------------------------------------------ */

START_TEST(test_catalog_withdraw_keeps_the_entry)
{
    Tdei__Dataset *d;
    Tdei__DatasetVersion *v;

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(withdraw_op("acme-steel", 9, "furnace-temps"), 0);
    ck_assert_str_eq(fx_event_type(0), "catalog.withdrawn");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert(fx_touched_member("acme-steel"));
    ck_assert(fx_touched_entry("furnace-temps"));
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->status, CODEC_DATASET_WITHDRAWN);
    ck_assert_str_eq(d->owner, "acme-steel");
    ck_assert_uint_eq(d->version, 1);
    ck_assert_mem_eq(d->content_root.data, fx_root1, 32);
    ck_assert_uint_eq(d->created_height, 5);
    ck_assert_uint_eq(d->updated_height, 9);
    codec_dataset_free(d);
    v = fx_version("furnace-temps", 1);
    ck_assert_ptr_nonnull(v);
    codec_dataset_version_free(v);
}
END_TEST

START_TEST(test_catalog_withdraw_refusals)
{
    Tdei__Dataset *d;

    fx_seed();
    ck_assert_int_eq(withdraw_op("acme-steel", 8, "no-such-entry"),
                     TDEI_UNKNOWN_DATASET);
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(withdraw_op("gamma-co", 8, "furnace-temps"),
                     TDEI_NOT_OWNER);
    assert_reason_has("only its owner acme-steel");
    /* Not even a public_service member withdraws another's entry. */
    ck_assert_int_eq(withdraw_op("pub-svc", 8, "furnace-temps"),
                     TDEI_NOT_OWNER);
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->status, CODEC_DATASET_ACTIVE);
    codec_dataset_free(d);
    ck_assert_int_eq(withdraw_op("acme-steel", 9, "furnace-temps"), 0);
    ck_assert_int_eq(withdraw_op("acme-steel", 10, "furnace-temps"),
                     TDEI_DATASET_STATE);
    assert_reason_has("already withdrawn");
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->updated_height, 9);
    codec_dataset_free(d);
}
END_TEST

/* ---- reprice ------------------------------------------------------------- */

START_TEST(test_catalog_reprice_updates_price_and_license_only)
{
    struct state *s = fx_seed_begin();
    Tdei__Dataset *d;
    Tdei__Exchange *x;

    /* An exchange requested earlier at price 100. */
    fx_grant_seed(s, "furnace-temps", "acme-steel", "beta-works",
                  CODEC_EXCHANGE_REQUESTED, 3);
    fixture_seed_end(s);
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(reprice_op("acme-steel", 9, "furnace-temps",
                                CODEC_PRICE_SUBSCRIPTION, 250, 30, 1),
                     0);
    ck_assert_str_eq(fx_event_type(0), "catalog.repriced");
    ck_assert_str_eq(fx_event_attr(0, "id"), "furnace-temps");
    ck_assert_str_eq(fx_event_attr(0, "by"), "acme-steel");
    ck_assert_str_eq(fx_event_attr(0, "model"), "subscription");
    ck_assert_str_eq(fx_event_attr(0, "amount"), "250");
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->price->model, CODEC_PRICE_SUBSCRIPTION);
    ck_assert_uint_eq(d->price->amount, 250);
    ck_assert_uint_eq(d->price->period, 30);
    ck_assert_ptr_nonnull(d->license);
    ck_assert(d->license->may_derive);
    ck_assert(d->license->may_resell);
    ck_assert_uint_eq(d->version, 1);
    ck_assert_str_eq(d->owner, "acme-steel");
    ck_assert_str_eq(d->title, "Furnace temperatures");
    ck_assert_uint_eq(d->updated_height, 9);
    codec_dataset_free(d);
    /* The earlier request keeps its price. */
    x = fx_exchange(3);
    ck_assert_uint_eq(x->price, 100);
    ck_assert_uint_eq(x->model, CODEC_PRICE_ONE_TIME);
    codec_exchange_free(x);
    /* one_time again. */
    ck_assert_int_eq(reprice_op("acme-steel", 10, "furnace-temps",
                                CODEC_PRICE_ONE_TIME, 0, 0, 0),
                     0);
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->price->model, CODEC_PRICE_ONE_TIME);
    ck_assert_uint_eq(d->price->amount, 0);
    ck_assert(!d->license->may_derive);
    codec_dataset_free(d);
}
END_TEST

START_TEST(test_catalog_reprice_refused_unknown_or_not_owner)
{
    Tdei__Dataset *d;

    fx_seed();
    ck_assert_int_eq(reprice_op("acme-steel", 8, "no-such-entry",
                                CODEC_PRICE_ONE_TIME, 5, 0, 0),
                     TDEI_UNKNOWN_DATASET);
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(reprice_op("beta-works", 8, "furnace-temps",
                                CODEC_PRICE_ONE_TIME, 5, 0, 1),
                     TDEI_NOT_OWNER);
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->price->amount, 100);
    ck_assert_ptr_nonnull(d->license);
    ck_assert(!d->license->may_derive);
    codec_dataset_free(d);
}
END_TEST

START_TEST(test_catalog_reprice_refused_withdrawn_or_wrong_model)
{
    Tdei__Dataset *d;

    fx_seed();
    fx_publish("acme-steel", 5, "furnace-temps", CODEC_KIND_DATASET, 1,
               CODEC_CLASS_GENERAL, 0);
    fx_publish("acme-steel", 5, "ladle-weights", CODEC_KIND_STREAM, 1,
               CODEC_CLASS_GENERAL, 0);
    ck_assert_int_eq(reprice_op("acme-steel", 8, "furnace-temps",
                                CODEC_PRICE_PER_RECORD, 1, 0, 0),
                     TDEI_DATASET_STATE);
    assert_reason_has("per_record pricing does not fit a dataset");
    ck_assert_int_eq(reprice_op("acme-steel", 8, "ladle-weights",
                                CODEC_PRICE_ONE_TIME, 1, 0, 0),
                     TDEI_DATASET_STATE);
    assert_reason_has("one_time pricing does not fit a stream");
    ck_assert_int_eq(reprice_op("acme-steel", 8, "ladle-weights",
                                CODEC_PRICE_SUBSCRIPTION, 40, 10, 0),
                     0);
    d = fx_dataset("ladle-weights");
    ck_assert_uint_eq(d->price->model, CODEC_PRICE_SUBSCRIPTION);
    ck_assert_uint_eq(d->price->period, 10);
    codec_dataset_free(d);
    ck_assert_int_eq(withdraw_op("acme-steel", 9, "furnace-temps"), 0);
    ck_assert_int_eq(reprice_op("acme-steel", 10, "furnace-temps",
                                CODEC_PRICE_ONE_TIME, 1, 0, 0),
                     TDEI_DATASET_STATE);
    assert_reason_has("the entry is withdrawn");
    d = fx_dataset("furnace-temps");
    ck_assert_uint_eq(d->price->model, CODEC_PRICE_ONE_TIME);
    ck_assert_uint_eq(d->price->amount, 100);
    codec_dataset_free(d);
}
END_TEST

static Suite *catalog_suite(void)
{
    Suite *s = suite_create("catalog");
    struct
    {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"publish_dataset",
         test_catalog_publish_dataset_writes_entry_and_version_1},
        {"publish_stream", test_catalog_publish_stream_writes_no_version},
        {"publish_auditor", test_catalog_publish_refused_for_auditor},
        {"publish_exists", test_catalog_publish_refused_for_a_taken_id},
        {"lineage_grant",
         test_catalog_lineage_accepted_with_settled_grant_and_may_derive},
        {"lineage_owner",
         test_catalog_lineage_accepted_when_the_publisher_owns_the_parent},
        {"lineage_missing", test_catalog_lineage_refused_for_a_missing_parent},
        {"lineage_no_grant", test_catalog_lineage_refused_without_a_grant},
        {"lineage_no_derive",
         test_catalog_lineage_refused_when_license_lacks_may_derive},
        {"lineage_unsettled",
         test_catalog_lineage_refused_for_an_unsettled_grant},
        {"lineage_neither",
         test_catalog_lineage_refused_when_both_grant_and_license_lack},
        {"version", test_catalog_version_links_to_the_previous_root},
        {"version_unknown", test_catalog_version_refused_for_an_unknown_entry},
        {"version_not_owner", test_catalog_version_refused_for_a_non_owner},
        {"version_state",
         test_catalog_version_refused_for_stream_withdrawn_or_same_root},
        {"version_overflow",
         test_catalog_version_refused_at_the_last_version_number},
        {"withdraw", test_catalog_withdraw_keeps_the_entry},
        {"withdraw_refusals", test_catalog_withdraw_refusals},
        {"reprice", test_catalog_reprice_updates_price_and_license_only},
        {"reprice_owner", test_catalog_reprice_refused_unknown_or_not_owner},
        {"reprice_state",
         test_catalog_reprice_refused_withdrawn_or_wrong_model},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void) { return testutil_run(catalog_suite()); }
