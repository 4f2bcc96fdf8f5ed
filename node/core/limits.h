/* Default limits (DESIGN.md section 4). Each is the default of a named
 * on-ledger param or config key; the edge that takes the input checks it,
 * and a test goes one past it. */
#ifndef TDEI_CORE_LIMITS_H
#define TDEI_CORE_LIMITS_H

#define TDEI_KIB 1024u
#define TDEI_MIB (1024u * 1024u)

#define TDEI_TX_SIZE_MAX (64u * TDEI_KIB)         /* params.tx_size_max */
#define TDEI_BLOCK_TXS_MAX 10000u                 /* params.block_txs_max */
#define TDEI_BLOCK_SIZE_MAX (8u * TDEI_MIB)       /* params.block_size_max */
#define TDEI_MEMPOOL_TXS_MAX 50000u               /* mempool.max_txs */
#define TDEI_MEMPOOL_BYTES_MAX (64u * TDEI_MIB)   /* mempool.max_bytes */
#define TDEI_SIGNER_PENDING_MAX 1000u             /* mempool.max_per_signer */
#define TDEI_P2P_FRAME_MAX (16u * TDEI_MIB)       /* p2p.max_frame */
#define TDEI_API_FRAME_MAX (16u * TDEI_MIB)       /* api.max_frame */
#define TDEI_PEERS_MAX 128u                       /* p2p.max_peers */
#define TDEI_TITLE_MAX 200u                       /* params.title_max */
#define TDEI_DESCRIPTION_MAX (4u * TDEI_KIB)      /* params.description_max */
#define TDEI_TAG_MAX 32u                          /* params.tag_max */
#define TDEI_TAGS_MAX 16u                         /* params.tags_max */
#define TDEI_CHUNK_SIZE (64u * TDEI_KIB)          /* payload chunk */
#define TDEI_STREAM_BATCH_MAX 10000u              /* params.batch_records_max */
#define TDEI_VALIDATORS_MAX 100u                  /* params.validators_max */

#define TDEI_CHAIN_ID_MAX 64u  /* chain ids are [a-z0-9-], 1-64 bytes */
#define TDEI_MEMBER_ID_MIN 3u  /* member ids are [a-z0-9-]{3,32} */
#define TDEI_MEMBER_ID_MAX 32u

#endif
