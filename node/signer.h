/* The double-sign guard's record on disk (DESIGN.md sections 5 and 8;
 * ../shared/CONSENSUS.md section 1, "Implementation must-haves"): the last
 * message this validator signed, kept in the store's signer database so
 * that the node never signs two conflicting messages, even across a crash
 * or a power cut.
 *
 * The engine (engine.h) emits CONS_ACT_PERSIST with a struct cons_signed
 * before any message it signs leaves; the host calls signer_persist and
 * carries out no later action until it returns 0. After a restart the host
 * passes signer_load's record to cons_restore.
 *
 * The record only moves forward in (height, round, step), compared in
 * that order (step: propose 1 < prevote 2 < precommit 3). signer_persist
 * refuses a record for an earlier (height, round, step) than the stored
 * one (TDEI_SIGN_BACKWARDS), and one for the same (height, round, step)
 * that is not byte for byte the stored one (TDEI_SIGN_CONFLICT: other sign
 * bytes would be a double sign; the same bytes under another signature
 * are refused too, because the guard re-sends the identical message,
 * CONSENSUS.md: "return the identical signature"). The identical record
 * is accepted. The check and the write happen in one LMDB write
 * transaction (store_commit_checked), so two persists can never both
 * pass against the same stored record.
 *
 * Durability: store commits are synced (LMDB without MDB_NOSYNC or
 * MDB_NOMETASYNC: the data pages, then the meta page, each with
 * fdatasync), so when signer_persist returns 0 the record survives a
 * crash or a power cut. Each persist is its own transaction: it never
 * waits for a block commit, and a block commit never carries it.
 *
 * Layout: one record under the key "last" (SIGNER_KEY) of STORE_DB_SIGNER,
 * 149 + len bytes, integers big-endian:
 *   offset   size  field
 *   0        1     format version, 0x01 (SIGNER_FORMAT_VERSION)
 *   1        8     height, u64
 *   9        4     round, u32
 *   13       1     step: 0x01 propose, 0x02 prevote, 0x03 precommit
 *   14       2     len, u16: 1..CONS_SIGN_BYTES_MAX (128)
 *   16       len   sign bytes (codec.h: vote or proposal layout)
 *   16+len   64    signature
 *   80+len   1     the message's id is nil: 0x00 no, 0x01 yes
 *   81+len   32    the message's id (vote id or proposed block id)
 *   113+len  4     pol_round, i32 (two's complement; -1 for a vote)
 *   117+len  32    SHA-256 of bytes 0 .. 117+len-1 (a checksum: LMDB keeps
 *                  none, and a flipped bit in height could let the node
 *                  sign backwards)
 * The id and pol_round let a restarted engine re-send the very message it
 * signed (struct cons_signed). A record that breaks any of this (size,
 * version, step, len, nil flag, checksum) is TDEI_CORRUPT.
 *
 * Example: height 812, round 3, prevote, 2 sign bytes aa bb, signature 64
 * bytes of 0x11, id nil (32 zero bytes), pol_round -1 gives
 * 01 000000000000032c 00000003 02 0002 aabb 11..11 (64) 01 00..00 (32)
 * ffffffff and the SHA-256 of those 119 bytes (151 bytes in all).
 *
 * This file is the host side of the guard (it does I/O through the
 * store); the engine itself stays pure and never calls it.
 *
 * Errors: errmsg is TDEI_ERRMSG_SIZE bytes; on failure it says what was
 * wrong and what to do. Threads: any thread that holds no read of the
 * store (store.h). Pointers are non-NULL unless stated. */
#ifndef TDEI_NODE_SIGNER_H
#define TDEI_NODE_SIGNER_H

#include "consensus/engine.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define SIGNER_FORMAT_VERSION 1u
#define SIGNER_KEY "last" /* the record's key in STORE_DB_SIGNER */
#define SIGNER_CHECKSUM_SIZE 32u
/* Bytes of a record around its sign bytes. */
#define SIGNER_RECORD_OVERHEAD                                                 \
    (16u + CONS_SIG_SIZE + 1u + CONS_ID_SIZE + 4u + SIGNER_CHECKSUM_SIZE)
#define SIGNER_RECORD_SIZE_MAX (SIGNER_RECORD_OVERHEAD + CONS_SIGN_BYTES_MAX)

/* Encode @rec in the layout above.
 * Returns: the number of bytes written, SIGNER_RECORD_OVERHEAD + len.
 * In:  rec: step 1-3 and len 1..CONS_SIGN_BYTES_MAX (asserted).
 * Out: out, SIGNER_RECORD_SIZE_MAX bytes of room. */
size_t signer_record_encode(uint8_t out[SIGNER_RECORD_SIZE_MAX],
                            const struct cons_signed *rec);

/* Decode a record of @len bytes.
 * Returns: 0, or TDEI_CORRUPT (errmsg names the broken field).
 * Out: out: the record on 0 (bytes past len zeroed), zeroed on failure. */
int signer_record_decode(struct cons_signed *out, const uint8_t *buf,
                         size_t len, char *errmsg);

/* Make @rec the guard's record, durably, unless it would move the guard
 * backwards or conflict with the stored record (rules above).
 * Returns: 0 (written and synced; or identical to the stored record);
 * TDEI_SIGN_BACKWARDS (@rec is for an earlier (height, round, step);
 * errmsg names both); TDEI_SIGN_CONFLICT (same (height, round, step),
 * other sign bytes or another signature); TDEI_CORRUPT (the stored record
 * is damaged: nothing is written; restore the data directory, or move it
 * aside only when this validator is certain it signed nothing since);
 * the codes of store_commit (TDEI_NOSPACE, TDEI_IOERR, TDEI_NOMEM...).
 * On any failure the stored record is unchanged.
 * In:  s: an open store; rec: step 1-3 and len 1..CONS_SIGN_BYTES_MAX
 *      (asserted), borrowed for the call.
 * Thread: any, as store_commit (may block on the disk). */
int signer_persist(struct store *s, const struct cons_signed *rec,
                   char *errmsg);

/* Read the guard's record.
 * Returns: 0; TDEI_NOTFOUND (no record: this validator never signed from
 * this data directory); TDEI_CORRUPT (the record is damaged); the codes
 * of store_read_begin (TDEI_BUSY, TDEI_IOERR).
 * Out: out: the record on 0, zeroed otherwise; errmsg on failure.
 * Thread: any that holds no read of @s. */
int signer_load(struct store *s, struct cons_signed *out, char *errmsg);

#endif
