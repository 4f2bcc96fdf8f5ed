/* config.ini of a node home: the node's own settings (DESIGN.md section
 * 11). Ledger-wide rules live in genesis params, not here.
 *
 * Every key is declared once in a table (config.c) with its type, range,
 * default and one line of documentation; loading is strict: an unknown
 * section or key, a value out of range or a duplicate is refused with a
 * message naming the line, the key, the bad value and the accepted range,
 * e.g. "config.ini:4: node.log_level=loud is not one of debug, verbose,
 * notice, warning". `tdei init` writes every key with its comment and
 * default. Pointers are non-NULL unless stated. */
#ifndef TDEI_NODE_CONFIG_H
#define TDEI_NODE_CONFIG_H

#include "core/ids.h"
#include "core/limits.h"
#include "core/log.h"

#include <stdint.h>
#include <stdio.h>

#define CONFIG_TEXT_MAX 256 /* longest text value (paths, addresses) */
#define CONFIG_LIST_MAX 4096 /* longest list value (p2p.peers) */

struct tdei_config {
    char member[TDEI_MEMBER_ID_MAX + 1]; /* node.member: this member's id */
    enum tdei_role role;                 /* node.role */
    enum tdei_log_level log_level;       /* node.log_level */
    int observer; /* node.observer: 1 = never sign a proposal or vote */
    uint64_t block_interval_ms;   /* chain.block_interval_ms: min gap */
    uint64_t empty_block_interval_ms; /* chain.empty_block_interval_ms */
    /* consensus.timeout_*: the engine's timeouts (consensus/engine.h),
     * timeout_X(round) = X_ms + round * X_delta_ms, in ms. */
    uint64_t timeout_propose_ms;         /* waiting for a proposal */
    uint64_t timeout_propose_delta_ms;   /* its growth per round */
    uint64_t timeout_prevote_ms;         /* after 2/3 of any prevotes */
    uint64_t timeout_prevote_delta_ms;   /* its growth per round */
    uint64_t timeout_precommit_ms;       /* after 2/3 of any precommits */
    uint64_t timeout_precommit_delta_ms; /* its growth per round */
    uint64_t gossip_interval_ms; /* consensus.gossip_interval_ms */
    char api_socket[CONFIG_TEXT_MAX]; /* api.socket: path, "" = none */
    char api_listen[CONFIG_TEXT_MAX]; /* api.listen: 127.0.0.1:PORT or "" */
    uint64_t api_max_connections; /* api.max_connections */
    uint64_t api_max_frame;       /* api.max_frame, bytes */
    uint64_t store_map_size_initial_mib; /* store.map_size_initial_mib */
    uint64_t store_map_size_growth_mib;  /* store.map_size_growth_mib */
    uint64_t store_map_size_max_mib;     /* store.map_size_max_mib */
    uint64_t mempool_max_txs;        /* mempool.max_txs */
    uint64_t mempool_max_bytes;      /* mempool.max_bytes */
    uint64_t mempool_max_per_signer; /* mempool.max_per_signer */
    uint64_t mempool_nonce_window;   /* mempool.nonce_window */
    uint64_t mempool_verify_inflight_max; /* mempool.verify_inflight_max */
    uint64_t mempool_sig_cache_max;  /* mempool.sig_cache_max, 0 = 2x txs */
    char p2p_listen[CONFIG_TEXT_MAX]; /* p2p.listen: HOST:PORT or "" */
    /* p2p.peers: HOST:PORT addresses separated by commas; in the file,
     * one line or several (continuation lines start with a space). */
    char p2p_peers[CONFIG_LIST_MAX];
    uint64_t p2p_max_peers;            /* p2p.max_peers */
    uint64_t p2p_max_frame;            /* p2p.max_frame, bytes */
    uint64_t p2p_queue_bytes;          /* p2p.queue_bytes, per channel */
    uint64_t p2p_handshake_timeout_ms; /* p2p.handshake_timeout_ms */
    uint64_t p2p_backoff_min_ms;       /* p2p.backoff_min_ms */
    uint64_t p2p_backoff_max_ms;       /* p2p.backoff_max_ms */
    uint64_t p2p_ban_ms;               /* p2p.ban_ms */
    /* The data plane (DESIGN.md section 9). */
    uint64_t blobs_map_size_max_mib;   /* blobs.map_size_max_mib */
    uint64_t payload_parallel;         /* payload.parallel: chunks asked
                                          for and not answered, per
                                          transfer */
    uint64_t payload_request_timeout_ms; /* payload.request_timeout_ms */
    uint64_t stream_batch_records;     /* stream.batch_records */
    uint64_t stream_batch_ms;          /* stream.batch_ms */
    uint64_t stream_record_max;        /* stream.record_max, bytes */
    uint64_t stream_queue_records;     /* stream.queue_records */
};

/* Fill @cfg with the defaults; member is empty and role is 0 (both are
 * required in a file). */
void config_defaults(struct tdei_config *cfg);

/* Load @path over the defaults into @cfg.
 * Returns: 0, TDEI_NOTFOUND (no file), TDEI_IOERR or TDEI_CONFIG (errmsg
 * says which line and key, the value and the accepted range). On error
 * @cfg holds the defaults. */
int config_load(struct tdei_config *cfg, const char *path, char *errmsg);

/* Write @cfg as a complete, commented config.ini to @stream. */
int config_write(const struct tdei_config *cfg, FILE *stream);

/* Write the key reference (one line per key: section.key, default,
 * meaning) to @stream; `tdei-node --config-help` prints it and README
 * carries the same table. */
void config_describe(FILE *stream);

#endif
