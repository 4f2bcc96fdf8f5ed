/* Codec rules of the catalog, classify and ownership ops, and of the
 * Dataset and DatasetVersion records (see codec.h, "The exchange rules"). */
#include "core/codec.h"
#include "core/codec_internal.h"

#include "core/error.h"

#include <inttypes.h>
#include <string.h>

#define ERRSZ TDEI_ERRMSG_SIZE

int codec_dataset_id_valid(const char *id)
{
    size_t len = strlen(id);

    if (len < CODEC_DATASET_ID_MIN || len > CODEC_DATASET_ID_MAX) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            return 0;
        }
    }
    return 1;
}

int codec_labels_allowed(uint32_t level, uint32_t data_class)
{
    switch (level) {
    case 1:
        return data_class == CODEC_CLASS_GENERAL;
    case 2:
        return data_class == CODEC_CLASS_GENERAL ||
               data_class == CODEC_CLASS_IMPORTANT;
    case 3:
        return data_class == CODEC_CLASS_IMPORTANT ||
               data_class == CODEC_CLASS_CORE;
    default:
        return 0;
    }
}

static const char *name_at(const char *const *names, size_t count, uint32_t n)
{
    return n >= 1 && n <= count ? names[n - 1] : "?";
}

const char *codec_domain_name(uint32_t domain)
{
    static const char *const names[] = {"rd", "production", "operation",
                                        "management", "external"};
    return name_at(names, sizeof(names) / sizeof(names[0]), domain);
}

const char *codec_class_name(uint32_t data_class)
{
    static const char *const names[] = {"general", "important", "core"};
    return name_at(names, sizeof(names) / sizeof(names[0]), data_class);
}

const char *codec_price_model_name(uint32_t model)
{
    static const char *const names[] = {"one_time", "per_record",
                                        "subscription"};
    return name_at(names, sizeof(names) / sizeof(names[0]), model);
}

const char *codec_exchange_status_name(uint32_t status)
{
    static const char *const names[] = {
        "requested", "approved", "delivered", "settled", "rejected",
        "expired",   "disputed", "refunded",  "revoked", "ended"};
    return name_at(names, sizeof(names) / sizeof(names[0]), status);
}

/* ---- field rules --------------------------------------------------------- */

static int dataset_id_check(const char *id, const char *what, char *errmsg)
{
    char shown[CODEC_ECHO_SIZE];

    if (codec_dataset_id_valid(id)) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s \"%s\" (%zu bytes) is not an entry id: %u-%u "
                       "bytes of [a-z0-9-]",
                       what, codec_echo(shown, id), strlen(id),
                       CODEC_DATASET_ID_MIN, CODEC_DATASET_ID_MAX);
}

/* A number field in [@min, @max]. */
static int range_check(uint64_t value, uint64_t min, uint64_t max,
                       const char *what, char *errmsg)
{
    if (value >= min && value <= max) {
        return 0;
    }
    return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                       "%s %" PRIu64 " is not %" PRIu64 "-%" PRIu64, what,
                       value, min, max);
}

static int labels_check(uint32_t level, uint32_t data_class, const char *what,
                        char *errmsg)
{
    int rc = range_check(level, 1, 3, what, errmsg);

    if (rc == 0 && !codec_labels_allowed(level, data_class)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "%s: level %" PRIu32 " with class %" PRIu32
                         " (%s) is not an allowed pair; use L1 general, L2 "
                         "general or important, L3 important or core",
                         what, level, data_class, codec_class_name(data_class));
    }
    return rc;
}

/* Strictly ascending strings, each accepted by @valid. */
static int sorted_ids_check(char *const *ids, size_t n, size_t max,
                            int (*valid)(const char *), const char *what,
                            char *errmsg)
{
    char shown[CODEC_ECHO_SIZE];

    if (n > max) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_TOOBIG,
                           "%s has %zu entries; the limit is %zu", what, n,
                           max);
    }
    for (size_t i = 0; i < n; i++) {
        if (!valid(ids[i])) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "%s entry \"%s\" is not valid", what,
                               codec_echo(shown, ids[i]));
        }
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0) {
            return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                               "%s are not strictly ascending (sort them, "
                               "without repeats)",
                               what);
        }
    }
    return 0;
}

static int tag_valid(const char *tag)
{
    return codec_token_valid(tag, CODEC_TAG_MAX);
}

static int price_check(const Tdei__PriceTerms *price, uint32_t kind,
                       const char *what, char *errmsg)
{
    int rc;

    if (price == NULL) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s has no price terms; give a model and amount",
                           what);
    }
    rc = codec_no_unknown(&price->base, what, errmsg);
    if (rc == 0) {
        rc = range_check(price->model, 1, 3, "price model", errmsg);
    }
    if (rc != 0) {
        return rc;
    }
    if (price->model == CODEC_PRICE_PER_RECORD && kind != CODEC_KIND_STREAM) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s: per_record pricing is for streams; use "
                           "one_time or subscription for a dataset",
                           what);
    }
    if (price->model == CODEC_PRICE_ONE_TIME && kind == CODEC_KIND_STREAM) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s: a stream is priced per_record or by "
                           "subscription, not one_time",
                           what);
    }
    if ((price->model == CODEC_PRICE_SUBSCRIPTION) != (price->period != 0)) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s: period is set exactly for the subscription "
                           "model (blocks per grant, at least 1)",
                           what);
    }
    return 0;
}

static int license_check(const Tdei__License *license, const char *what,
                         char *errmsg)
{
    if (license == NULL) {
        return 0; /* all false */
    }
    return codec_no_unknown(&license->base, what, errmsg);
}

/* The content fields by kind: a dataset has a 32-byte root; a stream has
 * neither root nor size. */
static int content_check(uint32_t kind, const ProtobufCBinaryData *root,
                         uint64_t size, const char *what, char *errmsg)
{
    if (kind == CODEC_KIND_DATASET) {
        return codec_len_check(root->len, CODEC_HASH_SIZE, errmsg,
                               "%s content_root", what);
    }
    if (root->len != 0 || size != 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "%s: a stream has no content_root or size; its "
                           "records come as batches",
                           what);
    }
    return 0;
}

/* The fields every entry has, as published (shared by CatalogPublish and
 * the Dataset record, which repeats fields 1-14). */
struct entry_fields
{
    const char *id;
    uint32_t kind;
    const char *title;
    const char *description;
    char *const *tags;
    size_t n_tags;
    uint32_t domain;
    uint32_t level;
    uint32_t data_class;
    const char *schema;
    const Tdei__PriceTerms *price;
    const Tdei__License *license;
    char *const *parents;
    size_t n_parents;
    const ProtobufCBinaryData *content_root;
    uint64_t size;
};

static int entry_check(const struct entry_fields *e, const char *what,
                       char *errmsg)
{
    int rc = dataset_id_check(e->id, what, errmsg);

    if (rc == 0) {
        rc = range_check(e->kind, 1, 2, "kind (1 dataset, 2 stream)", errmsg);
    }
    if (rc == 0) {
        rc = codec_text_check(e->title, CODEC_TITLE_MAX, "title", errmsg);
    }
    if (rc == 0 && e->title[0] == '\0') {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "%s %s has an empty title; give 1-%u bytes", what,
                         e->id, CODEC_TITLE_MAX);
    }
    if (rc == 0) {
        rc = codec_text_check(e->description, CODEC_DESCRIPTION_MAX,
                              "description", errmsg);
    }
    if (rc == 0) {
        rc = sorted_ids_check(e->tags, e->n_tags, CODEC_TAGS_MAX, tag_valid,
                              "tags (1-32 bytes of [a-z0-9._-] each)", errmsg);
    }
    if (rc == 0) {
        rc = range_check(e->domain, 1, CODEC_DOMAIN_MAX,
                         "domain (1 rd, 2 production, 3 operation, 4 "
                         "management, 5 external)",
                         errmsg);
    }
    if (rc == 0) {
        rc = labels_check(e->level, e->data_class, "level", errmsg);
    }
    if (rc == 0) {
        rc = codec_text_check(e->schema, CODEC_SCHEMA_MAX, "schema", errmsg);
    }
    if (rc == 0) {
        rc = price_check(e->price, e->kind, "price", errmsg);
    }
    if (rc == 0) {
        rc = license_check(e->license, "license", errmsg);
    }
    if (rc == 0) {
        rc = sorted_ids_check(e->parents, e->n_parents, CODEC_PARENTS_MAX,
                              codec_dataset_id_valid, "parents (entry ids)",
                              errmsg);
    }
    for (size_t i = 0; rc == 0 && i < e->n_parents; i++) {
        if (strcmp(e->parents[i], e->id) == 0) {
            rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                             "%s %s names itself as a parent", what, e->id);
        }
    }
    if (rc == 0) {
        rc = content_check(e->kind, e->content_root, e->size, what, errmsg);
    }
    return rc;
}

/* ---- ops ----------------------------------------------------------------- */

static int publish_check(const Tdei__CatalogPublish *p, char *errmsg)
{
    struct entry_fields e = {
        .id = p->id,
        .kind = p->kind,
        .title = p->title,
        .description = p->description,
        .tags = p->tags,
        .n_tags = p->n_tags,
        .domain = p->domain,
        .level = p->level,
        .data_class = p->data_class,
        .schema = p->schema,
        .price = p->price,
        .license = p->license,
        .parents = p->parents,
        .n_parents = p->n_parents,
        .content_root = &p->content_root,
        .size = p->size,
    };
    int rc = codec_no_unknown(&p->base, "tx catalog_publish", errmsg);

    return rc != 0 ? rc : entry_check(&e, "tx catalog_publish", errmsg);
}

static int version_check(const Tdei__CatalogVersion *v, char *errmsg)
{
    int rc = codec_no_unknown(&v->base, "tx catalog_version", errmsg);

    if (rc == 0) {
        rc = dataset_id_check(v->id, "tx catalog_version id", errmsg);
    }
    if (rc == 0) {
        rc = codec_len_check(v->content_root.len, CODEC_HASH_SIZE, errmsg,
                             "tx catalog_version content_root");
    }
    if (rc == 0) {
        rc = codec_text_check(v->schema, CODEC_SCHEMA_MAX,
                              "tx catalog_version schema", errmsg);
    }
    return rc;
}

static int reprice_check(const Tdei__CatalogReprice *r, char *errmsg)
{
    int rc = codec_no_unknown(&r->base, "tx catalog_reprice", errmsg);

    if (rc == 0) {
        rc = dataset_id_check(r->id, "tx catalog_reprice id", errmsg);
    }
    if (rc == 0 && r->price == NULL) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx catalog_reprice has no price terms");
    }
    if (rc == 0) {
        /* The kind is the entry's; the contract checks the model fits. */
        rc = codec_no_unknown(&r->price->base, "tx catalog_reprice price",
                              errmsg);
    }
    if (rc == 0) {
        rc = range_check(r->price->model, 1, 3, "price model", errmsg);
    }
    if (rc == 0 && (r->price->model == CODEC_PRICE_SUBSCRIPTION) !=
                       (r->price->period != 0)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "tx catalog_reprice: period is set exactly for the "
                         "subscription model");
    }
    if (rc == 0) {
        rc = license_check(r->license, "tx catalog_reprice license", errmsg);
    }
    return rc;
}

static int classify_set_check(const Tdei__ClassifySet *c, char *errmsg)
{
    int rc = codec_no_unknown(&c->base, "tx classify_set", errmsg);

    if (rc == 0) {
        rc = dataset_id_check(c->id, "tx classify_set id", errmsg);
    }
    if (rc == 0) {
        rc = labels_check(c->level, c->data_class, "tx classify_set level",
                          errmsg);
    }
    if (rc == 0) {
        rc = range_check(c->domain, 0, CODEC_DOMAIN_MAX,
                         "tx classify_set domain (0 keeps it)", errmsg);
    }
    return rc;
}

/* An op whose only field is an entry id. */
static int id_only_check(const ProtobufCMessage *msg, const char *id,
                         const char *what, char *errmsg)
{
    int rc = codec_no_unknown(msg, what, errmsg);

    return rc != 0 ? rc : dataset_id_check(id, what, errmsg);
}

static int offer_check(const Tdei__OwnershipOffer *o, char *errmsg)
{
    int rc = id_only_check(&o->base, o->id, "tx ownership_offer", errmsg);

    if (rc == 0) {
        rc = codec_member_id_check(o->to, "tx ownership_offer to", errmsg);
    }
    return rc;
}

int codec_catalog_op_check(const Tdei__TxBody *body, char *errmsg)
{
    switch (body->op_case) {
    case TDEI__TX_BODY__OP_CATALOG_PUBLISH:
        return publish_check(body->catalog_publish, errmsg);
    case TDEI__TX_BODY__OP_CATALOG_VERSION:
        return version_check(body->catalog_version, errmsg);
    case TDEI__TX_BODY__OP_CATALOG_WITHDRAW:
        return id_only_check(&body->catalog_withdraw->base,
                             body->catalog_withdraw->id, "tx catalog_withdraw",
                             errmsg);
    case TDEI__TX_BODY__OP_CATALOG_REPRICE:
        return reprice_check(body->catalog_reprice, errmsg);
    case TDEI__TX_BODY__OP_CLASSIFY_SET:
        return classify_set_check(body->classify_set, errmsg);
    case TDEI__TX_BODY__OP_CLASSIFY_APPROVE:
        return id_only_check(&body->classify_approve->base,
                             body->classify_approve->id, "tx classify_approve",
                             errmsg);
    case TDEI__TX_BODY__OP_OWNERSHIP_OFFER:
        return offer_check(body->ownership_offer, errmsg);
    case TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT:
        return id_only_check(&body->ownership_accept->base,
                             body->ownership_accept->id, "tx ownership_accept",
                             errmsg);
    case TDEI__TX_BODY__OP_OWNERSHIP_CANCEL:
        return id_only_check(&body->ownership_cancel->base,
                             body->ownership_cancel->id, "tx ownership_cancel",
                             errmsg);
    default:
        return tdei_errorf(errmsg, ERRSZ, TDEI_UNKNOWN_OP,
                           "tx op %d is not a catalog op", (int)body->op_case);
    }
}

/* ---- records ------------------------------------------------------------- */

static int dataset_record_check(const ProtobufCMessage *msg, char *errmsg)
{
    const Tdei__Dataset *d = (const Tdei__Dataset *)msg;
    struct entry_fields e = {
        .id = d->id,
        .kind = d->kind,
        .title = d->title,
        .description = d->description,
        .tags = d->tags,
        .n_tags = d->n_tags,
        .domain = d->domain,
        .level = d->level,
        .data_class = d->data_class,
        .schema = d->schema,
        .price = d->price,
        .license = d->license,
        .parents = d->parents,
        .n_parents = d->n_parents,
        .content_root = &d->content_root,
        .size = d->size,
    };
    int rc = entry_check(&e, "dataset record", errmsg);

    if (rc == 0) {
        rc = codec_member_id_check(d->owner, "dataset owner", errmsg);
    }
    if (rc == 0) {
        rc = codec_member_id_check(d->publisher, "dataset publisher", errmsg);
    }
    if (rc == 0 && d->offer_to[0] != '\0') {
        rc = codec_member_id_check(d->offer_to, "dataset offer_to", errmsg);
    }
    if (rc == 0 && d->version == 0) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "dataset %s record has version 0", d->id);
    }
    if (rc == 0) {
        rc = range_check(d->status, 1, 2, "dataset status", errmsg);
    }
    if (rc == 0 && (d->pending_level != 0 || d->pending_class != 0 ||
                    d->pending_domain != 0)) {
        rc = labels_check(d->pending_level, d->pending_class,
                          "dataset pending level", errmsg);
        if (rc == 0) {
            rc = range_check(d->pending_domain, 0, CODEC_DOMAIN_MAX,
                             "dataset pending domain", errmsg);
        }
    }
    return rc;
}

static int dataset_version_record_check(const ProtobufCMessage *msg,
                                        char *errmsg)
{
    const Tdei__DatasetVersion *v = (const Tdei__DatasetVersion *)msg;
    int rc = 0;

    if (v->version == 0) {
        return tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                           "dataset version record has version 0");
    }
    rc = codec_len_check(v->content_root.len, CODEC_HASH_SIZE, errmsg,
                         "dataset version content_root");
    if (rc == 0 && (v->version == 1) != (v->prev_root.len == 0)) {
        rc = tdei_errorf(errmsg, ERRSZ, TDEI_MALFORMED,
                         "dataset version %" PRIu64 " record: prev_root is "
                         "empty exactly for version 1",
                         v->version);
    }
    if (rc == 0 && v->prev_root.len != 0) {
        rc = codec_len_check(v->prev_root.len, CODEC_HASH_SIZE, errmsg,
                             "dataset version prev_root");
    }
    if (rc == 0) {
        rc = codec_text_check(v->schema, CODEC_SCHEMA_MAX,
                              "dataset version schema", errmsg);
    }
    return rc;
}

int codec_dataset_decode(Tdei__Dataset **out, const uint8_t *buf, size_t len,
                         char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__dataset__descriptor, buf, len,
        CODEC_DATASET_SIZE_MAX, "dataset", dataset_record_check, errmsg);
}

int codec_dataset_version_decode(Tdei__DatasetVersion **out, const uint8_t *buf,
                                 size_t len, char *errmsg)
{
    return codec_record_decode(
        (ProtobufCMessage **)out, &tdei__dataset_version__descriptor, buf, len,
        CODEC_DATASET_VERSION_SIZE_MAX, "dataset version",
        dataset_version_record_check, errmsg);
}

void codec_dataset_free(Tdei__Dataset *dataset)
{
    codec_message_free((ProtobufCMessage *)dataset);
}

void codec_dataset_version_free(Tdei__DatasetVersion *version)
{
    codec_message_free((ProtobufCMessage *)version);
}
