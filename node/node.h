/* The node: one process, one member, one chain (DESIGN.md sections 4, 8,
 * 11). It loads the home (config.ini, genesis.json, keys), opens the
 * ledger store, commits genesis on an empty store, and runs the libuv
 * loop: the client API, the mempool and block production.
 *
 * Blocks: the consensus engine (consensus/engine.h) drives them, in
 * process, with the node key as this validator's key. This layer runs
 * chains whose only validator is the node itself (a genesis with more
 * validators is refused until the network exists), so the node is the
 * proposer of every height and its own precommit is a quorum. The engine
 * asks for a value; when txs wait and block_interval_ms has passed since
 * the last block, the node reaps them, builds the next header (time =
 * max(now, previous + 1)) and, on a libuv worker, makes the block durable
 * in meta "proposal" before answering. The engine signs the proposal,
 * the prevote and the precommit, each recorded by the double-sign guard
 * (signer.h) with a synced store write before it counts; once decided,
 * the node builds the Commit from the engine's precommits and, on a
 * worker, executes the block and commits block, state, results, indexes,
 * the new heights and the commit in ONE store transaction. Header and
 * Commit have the layout the multi-validator chain uses; the commit of
 * block H travels in block H+1 and, for the tip, in meta "last_commit".
 *
 * Restart: the engine resumes from the guard's record. When the record
 * is for the height after the tip, the node gives the engine its own
 * signed message again, proposes the durable block again, and commits it
 * at once when it had precommitted it; it never signs a message that
 * conflicts with the record.
 *
 * Shutdown: SIGINT or SIGTERM stops the API and the block timer; a block
 * being committed is finished (LMDB either commits it whole or not at
 * all), then the store is closed. Pointers are non-NULL unless stated. */
#ifndef TDEI_NODE_NODE_H
#define TDEI_NODE_NODE_H

/* Meta key of the commit of the tip block (a serialized Commit). */
#define NODE_META_LAST_COMMIT "last_commit"

/* Meta key of the block this node built to propose at the height after
 * the tip (a serialized Block); deleted by the commit of that height. */
#define NODE_META_PROPOSAL "proposal"

struct node_options {
    const char *home;       /* the node home */
    const char *passphrase; /* of encrypted keys, or NULL */
    int observer;           /* 1: --observer (config node.observer too) */
};

/* Run the node until a signal stops it.
 * Returns: the process exit status: 0 after a clean stop, 1 when the node
 * could not start or had to halt (the log says why). */
int node_run(const struct node_options *opts);

#endif
