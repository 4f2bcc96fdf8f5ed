/* The node's proof and audit API (api.proto 96-111, "Proofs and audit
 * bundles"): what `tdei audit` reads to build a bundle (doc/bundle.md).
 *
 *   GetHistory           an object's history from the `index` database,
 *                        one page (at most 1000 events), on the loop
 *                        thread: a bounded cursor walk.
 *   GetValidatorChanges  the "vset/" history in state, at most 100 sets,
 *                        on the loop thread.
 *   GetTxProofs          committed txs with their results and both RFC
 *   GetHeaders           6962 inclusion proofs; headers with a commit
 *                        each. Both read and hash whole blocks, so they
 *                        run on a libuv worker with their own store read
 *                        (at most NODE_AUDIT_JOBS at once; more is
 *                        TDEI_BUSY) and answer from the loop thread when
 *                        done. Each answer stops early at 64 MiB of blocks
 *                        read or 8 MiB (half of api.max_frame, when less)
 *                        of answer, holding at least one item.
 *
 * Every field of a request is checked first; a bad one is refused with
 * TDEI_BADREQUEST naming it, and nothing is read. Reads take one store
 * snapshot per answer; nothing here writes. Loop thread. */
#ifndef TDEI_NODE_NODE_AUDIT_H
#define TDEI_NODE_NODE_AUDIT_H

#include "api/api.h"

struct node;

/* Proof answers being built on workers at once, at most. */
#define NODE_AUDIT_JOBS 2u

/* Answer @req, a GetHistory, GetTxProofs, GetHeaders or
 * GetValidatorChanges (asserted), on @call: now, or when its worker is
 * done (also while the node stops: the answer is then dropped by the
 * API). */
void node__audit_request(struct node *node, struct api_call *call,
                         const Tdei__Api__Request *req);

#endif
