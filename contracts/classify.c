/* The classify contract (DESIGN.md section 6, "classify (tiered
 * classification)"): every entry carries two labels, the MIIT level (1-3)
 * and the Data Security Law class (general, important, core), plus its
 * data domain. The owner may raise a label or change the domain at once;
 * lowering either label waits for the approval of a public_service member
 * (the regulator). Rules and codes are listed in contract.h. Pure.
 *
 * A pending lowering is kept in the entry (pending_level, pending_class,
 * pending_domain; all 0 when none). A later classify_set replaces it: a
 * new lowering with its own labels, a raise or a domain change by
 * clearing it, so an approval always applies the owner's latest request.
 *
 * Every op touches the signer's member, then the entry once it is known
 * to exist. */
#include "contracts/contract.h"

#include "core/assert.h"

#include <string.h>

static int touch_member(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, contract_key_member(key, id));
}

/* The labels attributes of a classify event: level, class, domain
 * (@domain 0: "unchanged"). */
static int labels_attrs(struct contract_ctx *ctx, uint32_t level,
                        uint32_t data_class, uint32_t domain)
{
    int rc = contract_event_attr_u64(ctx, "level", level);

    if (rc == 0) {
        rc = contract_event_attr(ctx, "class", codec_class_name(data_class));
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "domain",
                                 domain == 0 ? "unchanged"
                                             : codec_domain_name(domain));
    }
    return rc;
}

int contract_classify_set(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__ClassifySet *op = body->classify_set;
    Tdei__Dataset *d;
    int lowers;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_CLASSIFY_SET);
    TDEI_ASSERT(codec_labels_allowed(op->level, op->data_class));
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_get(ctx, "classify_set", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (strcmp(d->owner, ctx->member) != 0) {
        rc = contract_refuse(
            ctx, TDEI_NOT_OWNER,
            "classify_set %s: only its owner %s sets labels%s", op->id,
            d->owner,
            ctx->role == TDEI_ROLE_PUBLIC_SERVICE
                ? "; a public_service member approves a lowering the owner "
                  "asked for with classify_approve"
                : "");
    }
    if (rc == 0) {
        rc = contract_entry_active_check(ctx, "classify_set", d);
    }
    if (rc != 0) {
        codec_dataset_free(d);
        return rc;
    }
    lowers = op->level < d->level || op->data_class < d->data_class;
    if (lowers) {
        /* Labels stay; the request waits for a regulator. */
        d->pending_level = op->level;
        d->pending_class = op->data_class;
        d->pending_domain = op->domain;
    } else {
        d->level = op->level;
        d->data_class = op->data_class;
        if (op->domain != 0) {
            d->domain = op->domain;
        }
        d->pending_level = 0;
        d->pending_class = 0;
        d->pending_domain = 0;
    }
    rc = contract_entry_put(ctx, d);
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(
            ctx, lowers ? "classify.lowering_requested" : "classify.set",
            op->id);
    }
    if (rc == 0) {
        rc = labels_attrs(ctx, op->level, op->data_class, op->domain);
    }
    return rc;
}

int contract_classify_approve(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__ClassifyApprove *op = body->classify_approve;
    const char *role;
    Tdei__Dataset *d;
    uint32_t level;
    uint32_t data_class;
    uint32_t domain;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_CLASSIFY_APPROVE);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc != 0) {
        return rc;
    }
    if (ctx->role != TDEI_ROLE_PUBLIC_SERVICE) {
        role = tdei_role_name(ctx->role);
        return contract_refuse(ctx, TDEI_ROLE,
                               "classify_approve %s: lowering needs a "
                               "public_service approval; %s is %s",
                               op->id, ctx->member,
                               role != NULL ? role : "unknown");
    }
    rc = contract_entry_get(ctx, "classify_approve", op->id, &d);
    if (rc != 0) {
        return rc;
    }
    if (d->pending_level == 0) {
        rc = contract_refuse(ctx, TDEI_NOTHING_PENDING,
                             "classify_approve %s: no lowering is pending; "
                             "the owner asks for one with classify_set",
                             op->id);
        codec_dataset_free(d);
        return rc;
    }
    level = d->pending_level;
    data_class = d->pending_class;
    domain = d->pending_domain;
    d->level = level;
    d->data_class = data_class;
    if (domain != 0) {
        d->domain = domain;
    }
    d->pending_level = 0;
    d->pending_class = 0;
    d->pending_domain = 0;
    rc = contract_entry_put(ctx, d);
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "classify.approved", op->id);
    }
    if (rc == 0) {
        rc = labels_attrs(ctx, level, data_class, domain);
    }
    return rc;
}
