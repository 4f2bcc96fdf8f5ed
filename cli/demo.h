/* `tdei localnet demo` (cli/demo.c, cli/demo_timeline.c): the data plane
 * end to end on a localnet, unattended, as a sequence of operator
 * commands (DESIGN.md section 11, issue 7 "The quick start").
 *
 * Pointers are non-NULL unless stated. */
#ifndef TDEI_CLI_DEMO_H
#define TDEI_CLI_DEMO_H

#include "cli.h"
#include "nodecall.h"

#include <stdint.h>

/* The command `tdei localnet demo` (its argv[0] is "demo"). Returns the
 * exit code: 0 only when every step did what it should. */
int cli_localnet_demo(struct cli_ctx *ctx, int argc, char **argv);

/* Print the timeline of exchange @xid (32 bytes) from the ledger read
 * through @nc: every tx of heights @from..@to that touched it (its
 * history chain, which must run gapless from the exchange's first tx to
 * the ledger's head of it) and, for a stream subscription of entry
 * @stream (NULL for a dataset), the appends that charged it. Each row:
 * height, block time, member (the signer's), action, price (credits the
 * tx moved for the exchange), result.
 * Returns: 0; TDEI_CORRUPT (the chain has a gap or does not end at the
 * ledger's head: errmsg says where); or a read failure with errmsg.
 * *@charged (may be NULL) gets the credits the charge rows add up to. */
int demo_timeline_print(struct nodecall *nc, const uint8_t *xid,
                        const char *stream, uint64_t from, uint64_t to,
                        uint64_t *charged, char *errmsg);

#endif
