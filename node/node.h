/* The node: one process, one member, one chain (DESIGN.md sections 4, 8,
 * 11). It loads the home (config.ini, genesis.json, keys), opens the
 * ledger store, commits genesis on an empty store, and runs the libuv
 * loop: the client API, the mempool and block production.
 *
 * Blocks: while this layer runs a single-validator chain, the node is the
 * proposer of every height. When txs wait and block_interval_ms has passed
 * since the last block, it reaps them, builds the next header (time =
 * max(now, previous + 1)), signs its precommit, and on a libuv worker
 * executes the block and commits block, state, results, indexes and the
 * new heights in ONE store transaction. Header and Commit have the layout
 * the multi-validator chain uses; the commit of block H travels in block
 * H+1 and, for the tip, in meta "last_commit".
 *
 * Shutdown: SIGINT or SIGTERM stops the API and the block timer; a block
 * being committed is finished (LMDB either commits it whole or not at
 * all), then the store is closed. Pointers are non-NULL unless stated. */
#ifndef TDEI_NODE_NODE_H
#define TDEI_NODE_NODE_H

/* Meta key of the commit of the tip block (a serialized Commit). */
#define NODE_META_LAST_COMMIT "last_commit"

struct node_options {
    const char *home;       /* the node home */
    const char *passphrase; /* of encrypted keys, or NULL */
};

/* Run the node until a signal stops it.
 * Returns: the process exit status: 0 after a clean stop, 1 when the node
 * could not start or had to halt (the log says why). */
int node_run(const struct node_options *opts);

#endif
