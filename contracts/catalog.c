/* The catalog contract (DESIGN.md section 6, "catalog (one public
 * catalog)"): publish a dataset or stream entry, add versions of a
 * dataset's content linked to the previous one, withdraw an entry and
 * change its price terms and license. Rules and codes are listed in
 * contract.h. Pure.
 *
 * Entry ids are never reused: a withdrawn entry keeps its record (status
 * withdrawn), so publishing its id again is refused. A derived entry names
 * its parents, and the publisher must own each parent or hold a settled
 * grant on it whose license (the parent's current one) allows derivation:
 * the ownership rule of DESIGN.md section 6.
 *
 * Every op touches the signer's member first (its history records what it
 * published and tried), then the entry: version, withdraw and reprice as
 * soon as it is known to exist, publish only once every rule holds (a
 * refused publish leaves no head for an id that does not exist). */
#include "contracts/contract.h"

#include "core/assert.h"
#include "core/hex.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int touch_member(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, contract_key_member(key, id));
}

static const char *kind_name(uint32_t kind)
{
    return kind == CODEC_KIND_STREAM ? "stream" : "dataset";
}

/* Set *@exists to whether entry @id has a record (withdrawn or not). */
static int entry_exists(struct contract_ctx *ctx, const char *id, int *exists)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    size_t vlen;
    int rc =
        contract_get(ctx, key, contract_key_dataset(key, id), NULL, 0, &vlen);

    *exists = rc == 0 || rc == TDEI_TOOBIG;
    return rc == TDEI_NOTFOUND || rc == TDEI_TOOBIG ? 0 : rc;
}

/* ---- lineage ------------------------------------------------------------- */

/* Look up the latest grant of the signer's member on @parent. Sets
 * *@settled to whether it exists and its exchange is settled, and
 * @status_out to the exchange's status (0 when there is no grant). */
static int grant_check(struct contract_ctx *ctx, const char *parent,
                       int *settled, uint32_t *status_out)
{
    Tdei__GrantRef *ref;
    Tdei__Exchange *ex;
    int rc = contract_grant_get(ctx, parent, ctx->member, &ref);

    *settled = 0;
    *status_out = 0;
    if (rc == TDEI_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    TDEI_ASSERT(ref->exchange.len == CODEC_HASH_SIZE); /* the decoder's */
    rc = contract_exchange_get(ctx, ref->exchange.data, &ex);
    codec_grant_ref_free(ref);
    if (rc == TDEI_NOTFOUND) {
        /* A grant names the exchange that settled it; the exchange
         * contract writes both. A dangling one is damaged state. */
        (void)snprintf(ctx->reason, sizeof(ctx->reason),
                       "state record grant %s/%s is damaged: its exchange "
                       "is missing",
                       parent, ctx->member);
        return TDEI_CORRUPT;
    }
    if (rc != 0) {
        return rc;
    }
    *status_out = ex->status;
    *settled = ex->status == CODEC_EXCHANGE_SETTLED;
    codec_exchange_free(ex);
    return 0;
}

/* Parent @parent exists, and the signer's member owns it or holds a
 * settled grant on it while its license allows derivation. */
static int parent_check(struct contract_ctx *ctx, const char *parent)
{
    Tdei__Dataset *p;
    char owner[TDEI_MEMBER_ID_MAX + 1];
    char grant[80];
    uint32_t status;
    int may_derive;
    int settled;
    int rc = contract_dataset_get(ctx, parent, &p);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_LINEAGE,
                               "catalog_publish: parent %s is not in the "
                               "catalog; name only published entries as "
                               "parents",
                               parent);
    }
    if (rc != 0) {
        return rc;
    }
    if (strcmp(p->owner, ctx->member) == 0) {
        codec_dataset_free(p);
        return 0;
    }
    (void)snprintf(owner, sizeof(owner), "%s", p->owner);
    may_derive = p->license != NULL && p->license->may_derive;
    codec_dataset_free(p);
    rc = grant_check(ctx, parent, &settled, &status);
    if (rc != 0) {
        return rc;
    }
    if (settled && may_derive) {
        return 0;
    }
    if (status == 0) {
        (void)snprintf(grant, sizeof(grant), "holds no grant on it");
    } else {
        (void)snprintf(grant, sizeof(grant),
                       "its latest exchange for it is %s, not settled",
                       codec_exchange_status_name(status));
    }
    if (!settled && !may_derive) {
        return contract_refuse(ctx, TDEI_LINEAGE,
                               "catalog_publish: parent %s: %s does not own "
                               "it (%s does) and %s, and its license does "
                               "not allow derivation (may_derive is false)",
                               parent, ctx->member, owner, grant);
    }
    if (!settled) {
        return contract_refuse(ctx, TDEI_LINEAGE,
                               "catalog_publish: parent %s: %s does not own "
                               "it (%s does) and %s; request it and settle "
                               "the exchange first",
                               parent, ctx->member, owner, grant);
    }
    return contract_refuse(ctx, TDEI_LINEAGE,
                           "catalog_publish: parent %s: %s holds a settled "
                           "grant, but the parent's license does not allow "
                           "derivation (may_derive is false); ask its owner "
                           "%s to allow it",
                           parent, ctx->member, owner);
}

/* ---- handlers ------------------------------------------------------------ */

/* The first version of a dataset, or version @d->version after a
 * catalog_version (then @prev_root is the previous content root). */
static int version_put(struct contract_ctx *ctx, const Tdei__Dataset *d,
                       const ProtobufCBinaryData *prev_root)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__DatasetVersion v = TDEI__DATASET_VERSION__INIT;

    v.version = d->version;
    v.content_root = d->content_root;
    v.size = d->size;
    v.schema = d->schema;
    v.height = ctx->height;
    if (prev_root != NULL) {
        v.prev_root = *prev_root;
    }
    return contract_record_put(
        ctx, key, contract_key_dsver(key, d->id, d->version), &v.base);
}

int contract_catalog_publish(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__CatalogPublish *op = body->catalog_publish;
    uint8_t key[CONTRACT_KEY_SIZE_MAX];
    Tdei__Dataset d = TDEI__DATASET__INIT;
    int exists;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_CATALOG_PUBLISH);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc != 0) {
        return rc;
    }
    if (ctx->role == TDEI_ROLE_AUDITOR) {
        return contract_refuse(ctx, TDEI_ROLE,
                               "catalog_publish: %s is an auditor; auditors "
                               "observe and never publish or own entries",
                               ctx->member);
    }
    rc = entry_exists(ctx, op->id, &exists);
    if (rc != 0) {
        return rc;
    }
    if (exists) {
        return contract_refuse(ctx, TDEI_DATASET_EXISTS,
                               "catalog_publish: the id %s is taken (ids are "
                               "never reused, even after a withdrawal); "
                               "choose another id",
                               op->id);
    }
    for (size_t i = 0; i < op->n_parents && i < CODEC_PARENTS_MAX; i++) {
        rc = parent_check(ctx, op->parents[i]);
        if (rc != 0) {
            return rc;
        }
    }
    rc = contract_touch(ctx, key, contract_key_dataset(key, op->id));
    if (rc != 0) {
        return rc;
    }
    d.id = op->id;
    d.kind = op->kind;
    d.title = op->title;
    d.description = op->description;
    d.n_tags = op->n_tags;
    d.tags = op->tags;
    d.domain = op->domain;
    d.level = op->level;
    d.data_class = op->data_class;
    d.schema = op->schema;
    d.price = op->price;
    d.license = op->license;
    d.n_parents = op->n_parents;
    d.parents = op->parents;
    d.content_root = op->content_root;
    d.size = op->size;
    d.owner = ctx->member;
    d.publisher = ctx->member;
    d.version = 1;
    d.status = CODEC_DATASET_ACTIVE;
    d.created_height = ctx->height;
    rc = contract_entry_put(ctx, &d);
    if (rc == 0 && op->kind == CODEC_KIND_DATASET) {
        rc = version_put(ctx, &d, NULL);
    }
    if (rc == 0) {
        rc = contract_entry_event(ctx, "catalog.published", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "kind", kind_name(op->kind));
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "parents", op->n_parents);
    }
    return rc;
}

int contract_catalog_version(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__CatalogVersion *op = body->catalog_version;
    char root_hex[2 * CODEC_HASH_SIZE + 1];
    Tdei__Dataset *d;
    Tdei__Dataset next;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_CATALOG_VERSION);
    TDEI_ASSERT(op->content_root.len == CODEC_HASH_SIZE);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_owned_get(ctx, "catalog_version", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (d->kind != CODEC_KIND_DATASET) {
        rc = contract_refuse(ctx, TDEI_DATASET_STATE,
                             "catalog_version %s: the entry is a stream; a "
                             "stream grows by stream_append batches, not "
                             "versions",
                             op->id);
    }
    if (rc == 0) {
        rc = contract_entry_active_check(ctx, "catalog_version", d);
    }
    if (rc == 0 && d->content_root.len == op->content_root.len &&
        memcmp(d->content_root.data, op->content_root.data,
               op->content_root.len) == 0) {
        rc = contract_refuse(ctx, TDEI_DATASET_STATE,
                             "catalog_version %s: the content root is the "
                             "one of version %" PRIu64 "; a new version "
                             "needs new content",
                             op->id, d->version);
    }
    if (rc == 0 && d->version == UINT64_MAX) {
        rc = contract_refuse(ctx, TDEI_OVERFLOW,
                             "catalog_version %s: the entry is at the last "
                             "version number; publish a new entry",
                             op->id);
    }
    if (rc != 0) {
        codec_dataset_free(d);
        return rc;
    }
    /* A shallow copy with the new fields: d keeps its own buffers, and
     * its old root is the new version's prev_root. */
    next = *d;
    next.version = d->version + 1;
    next.content_root = op->content_root;
    next.size = op->size;
    if (op->schema[0] != '\0') {
        next.schema = op->schema;
    }
    rc = contract_entry_put(ctx, &next);
    if (rc == 0) {
        rc = version_put(ctx, &next, &d->content_root);
    }
    (void)tdei_hex_encode(root_hex, sizeof(root_hex), op->content_root.data,
                          op->content_root.len);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "catalog.versioned", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "version", next.version);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "root", root_hex);
    }
    codec_dataset_free(d);
    return rc;
}

int contract_catalog_withdraw(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__CatalogWithdraw *op = body->catalog_withdraw;
    Tdei__Dataset *d;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_CATALOG_WITHDRAW);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_owned_get(ctx, "catalog_withdraw", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (d->status == CODEC_DATASET_WITHDRAWN) {
        rc = contract_refuse(ctx, TDEI_DATASET_STATE,
                             "catalog_withdraw %s: the entry is already "
                             "withdrawn",
                             op->id);
    }
    if (rc == 0) {
        /* Open exchanges on it run to their end: nothing else changes. */
        d->status = CODEC_DATASET_WITHDRAWN;
        rc = contract_entry_put(ctx, d);
    }
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "catalog.withdrawn", op->id);
    }
    return rc;
}

int contract_catalog_reprice(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__CatalogReprice *op = body->catalog_reprice;
    Tdei__Dataset *d;
    Tdei__Dataset next;
    uint32_t model;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_CATALOG_REPRICE);
    TDEI_ASSERT(op->price != NULL); /* the decoder's */
    model = op->price->model;
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_owned_get(ctx, "catalog_reprice", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    rc = contract_entry_active_check(ctx, "catalog_reprice", d);
    if (rc == 0 &&
        ((model == CODEC_PRICE_PER_RECORD && d->kind != CODEC_KIND_STREAM) ||
         (model == CODEC_PRICE_ONE_TIME && d->kind != CODEC_KIND_DATASET))) {
        rc = contract_refuse(ctx, TDEI_DATASET_STATE,
                             "catalog_reprice %s: %s pricing does not fit a "
                             "%s; a dataset is priced one_time or by "
                             "subscription, a stream per_record or by "
                             "subscription",
                             op->id, codec_price_model_name(model),
                             kind_name(d->kind));
    }
    if (rc == 0) {
        /* Requests already made keep the price they escrowed: the
         * Exchange records its own model and price. */
        next = *d;
        next.price = op->price;
        next.license = op->license;
        rc = contract_entry_put(ctx, &next);
    }
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "catalog.repriced", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "model", codec_price_model_name(model));
    }
    if (rc == 0) {
        rc = contract_event_attr_u64(ctx, "amount", op->price->amount);
    }
    return rc;
}
