/* The ownership contract (DESIGN.md section 6, "ownership (clear
 * ownership)"): exactly one owner per entry at every height. A transfer is
 * an offer by the owner to one member plus that member's acceptance; the
 * owner field changes in one write, by the accepting tx, so there is
 * never a height with no owner or two. Rules and codes are listed in
 * contract.h. Pure.
 *
 * An entry holds at most one open offer (Dataset.offer_to): a new offer
 * replaces the older one, acceptance and cancellation clear it.
 * Auditors never own: an offer to an auditor is refused, so the member an
 * offer names is never one.
 *
 * Every op touches the signer's member, then the entry once it is known
 * to exist; an offer also touches the member offered to (once it is known
 * to exist), an acceptance the member that gave the entry up. */
#include "contracts/contract.h"

#include "core/assert.h"

#include <stdio.h>
#include <string.h>

static int touch_member(struct contract_ctx *ctx, const char *id)
{
    uint8_t key[CONTRACT_KEY_SIZE_MAX];

    return contract_touch(ctx, key, contract_key_member(key, id));
}

static const char *status_name(uint32_t status)
{
    return status == CODEC_MEMBER_SUSPENDED ? "suspended" : "removed";
}

/* The member offered @id: exists, is active, is not the owner, is not an
 * auditor. Touches it once it is known to exist. */
static int receiver_check(struct contract_ctx *ctx, const Tdei__Dataset *d,
                          const char *to)
{
    Tdei__Member *member;
    uint32_t status;
    uint32_t role;
    int rc = contract_member_get(ctx, to, &member);

    if (rc == TDEI_NOTFOUND) {
        return contract_refuse(ctx, TDEI_UNKNOWN_MEMBER,
                               "ownership_offer %s to %s: no such member; "
                               "check the member id",
                               d->id, to);
    }
    if (rc != 0) {
        return rc;
    }
    status = member->status;
    role = member->role;
    codec_member_free(member);
    rc = touch_member(ctx, to);
    if (rc != 0) {
        return rc;
    }
    if (status != CODEC_MEMBER_ACTIVE) {
        return contract_refuse(ctx, TDEI_MEMBER_INACTIVE,
                               "ownership_offer %s to %s: the member is %s; "
                               "only an active member takes ownership",
                               d->id, to, status_name(status));
    }
    if (strcmp(to, d->owner) == 0) {
        return contract_refuse(ctx, TDEI_SELF_TRANSFER,
                               "ownership_offer %s to %s: %s already owns "
                               "it; name another member",
                               d->id, to, to);
    }
    if (role == TDEI_ROLE_AUDITOR) {
        return contract_refuse(ctx, TDEI_ROLE,
                               "ownership_offer %s to %s: the member is an "
                               "auditor, and auditors never own entries",
                               d->id, to);
    }
    return 0;
}

int contract_ownership_offer(struct contract_ctx *ctx, const Tdei__TxBody *body)
{
    const Tdei__OwnershipOffer *op = body->ownership_offer;
    Tdei__Dataset *d;
    Tdei__Dataset next;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_OWNERSHIP_OFFER);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_owned_get(ctx, "ownership_offer", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    rc = contract_entry_active_check(ctx, "ownership_offer", d);
    if (rc == 0) {
        rc = receiver_check(ctx, d, op->to);
    }
    if (rc == 0) {
        /* Replaces an older offer: one open offer per entry. */
        next = *d;
        next.offer_to = op->to;
        rc = contract_entry_put(ctx, &next);
    }
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "ownership.offered", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "to", op->to);
    }
    return rc;
}

/* The accepting member is still active (it may have been suspended since
 * the offer). */
static int acceptor_check(struct contract_ctx *ctx, const char *id)
{
    Tdei__Member *member;
    uint32_t status;
    int rc = contract_member_get(ctx, ctx->member, &member);

    if (rc != 0 && rc != TDEI_NOTFOUND) {
        return rc;
    }
    status = rc == 0 ? member->status : CODEC_MEMBER_REMOVED;
    codec_member_free(member);
    if (status != CODEC_MEMBER_ACTIVE) {
        return contract_refuse(ctx, TDEI_MEMBER_INACTIVE,
                               "ownership_accept %s: %s is %s; only an "
                               "active member takes ownership",
                               id, ctx->member, status_name(status));
    }
    return 0;
}

int contract_ownership_accept(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__OwnershipAccept *op = body->ownership_accept;
    char from[TDEI_MEMBER_ID_MAX + 1] = "";
    Tdei__Dataset *d;
    Tdei__Dataset next;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_OWNERSHIP_ACCEPT);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_get(ctx, "ownership_accept", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (d->offer_to[0] == '\0') {
        rc = contract_refuse(ctx, TDEI_NOTHING_PENDING,
                             "ownership_accept %s: no offer is open; the "
                             "owner %s offers it with ownership_offer",
                             op->id, d->owner);
    } else if (strcmp(d->offer_to, ctx->member) != 0) {
        rc = contract_refuse(ctx, TDEI_NOT_PARTY,
                             "ownership_accept %s: the open offer is to %s, "
                             "not %s; only %s accepts it",
                             op->id, d->offer_to, ctx->member, d->offer_to);
    }
    if (rc == 0) {
        rc = acceptor_check(ctx, op->id);
    }
    if (rc == 0) {
        (void)snprintf(from, sizeof(from), "%s", d->owner);
        rc = touch_member(ctx, from);
    }
    if (rc == 0) {
        /* One write moves ownership: the entry never has two owners. */
        next = *d;
        next.owner = ctx->member;
        next.offer_to = (char *)"";
        rc = contract_entry_put(ctx, &next);
    }
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "ownership.accepted", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "from", from);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "to", ctx->member);
    }
    return rc;
}

int contract_ownership_cancel(struct contract_ctx *ctx,
                              const Tdei__TxBody *body)
{
    const Tdei__OwnershipCancel *op = body->ownership_cancel;
    char to[TDEI_MEMBER_ID_MAX + 1] = "";
    Tdei__Dataset *d;
    Tdei__Dataset next;
    int rc;

    TDEI_ASSERT(body->op_case == TDEI__TX_BODY__OP_OWNERSHIP_CANCEL);
    TDEI_ASSERT(op != NULL);
    rc = touch_member(ctx, ctx->member);
    if (rc == 0) {
        rc = contract_entry_owned_get(ctx, "ownership_cancel", op->id, &d);
    }
    if (rc != 0) {
        return rc;
    }
    if (d->offer_to[0] == '\0') {
        rc = contract_refuse(ctx, TDEI_NOTHING_PENDING,
                             "ownership_cancel %s: no offer is open", op->id);
    }
    if (rc == 0) {
        (void)snprintf(to, sizeof(to), "%s", d->offer_to);
        next = *d;
        next.offer_to = (char *)"";
        rc = contract_entry_put(ctx, &next);
    }
    codec_dataset_free(d);
    if (rc == 0) {
        rc = contract_entry_event(ctx, "ownership.canceled", op->id);
    }
    if (rc == 0) {
        rc = contract_event_attr(ctx, "to", to);
    }
    return rc;
}
