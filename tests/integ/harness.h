/* Integration harness: a real tdei-node process on a private home, driven
 * through the client API (tests/integ/). Every node binds only a Unix
 * socket inside the test's own temporary directory; the harness kills
 * exactly the process it started, by pid, and bounds every wait. */
#ifndef TDEI_TESTS_INTEG_HARNESS_H
#define TDEI_TESTS_INTEG_HARNESS_H

#include "api/client.h"
#include "core/keys.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define INTEG_MEMBERS_MAX 16
#define INTEG_PATH_MAX 512

struct integ_net {
    char dir[INTEG_PATH_MAX / 2];             /* private temp dir */
    char homes[INTEG_MEMBERS_MAX][INTEG_PATH_MAX]; /* node homes */
    char ids[INTEG_MEMBERS_MAX][33];          /* member ids */
    struct tdei_keypair ops[INTEG_MEMBERS_MAX]; /* operator keys */
    char chain_id[65];                        /* chain id */
    size_t members;                           /* members in genesis */
    pid_t pid;                                /* the running node, or 0 */
    char socket[INTEG_PATH_MAX + 16];         /* its API socket */
    char log[INTEG_PATH_MAX + 16];            /* its log file */
};

/* Create @members homes under a fresh temp dir and a genesis in home 0:
 * member 0 is the only validator (public_service), the others alternate
 * manufacturer and platform; everyone gets @balance credits. Home 0's
 * config.ini gets chain.block_interval_ms = @block_interval_ms.
 * Returns 0 or a TDEI code (printed). */
int integ_net_create(struct integ_net *net, size_t members, uint64_t balance,
                     uint64_t block_interval_ms);

/* Start tdei-node ($TDEI_NODE_BIN) on home 0, logging to net->log, and
 * wait (at most @timeout_ms) until its API answers a status request.
 * Returns 0 or TDEI_TIMEOUT / TDEI_IOERR (printed). */
int integ_node_start(struct integ_net *net, unsigned timeout_ms);

/* Send @sig to the node and wait (at most @timeout_ms) for it to exit.
 * Returns its exit status (0-255), 128+signal if killed, or -1 on a
 * timeout (then it is SIGKILLed). */
int integ_node_stop(struct integ_net *net, int sig, unsigned timeout_ms);

/* Kill the node if it runs, remove the temp dir, wipe keys. */
void integ_net_destroy(struct integ_net *net);

/* Build the serialized signed transfer of @amount from member @from to
 * member @to with @nonce. *@tx is tdei_malloc'd. Returns 0 or a code. */
int integ_transfer_tx(const struct integ_net *net, size_t from, size_t to,
                      uint64_t amount, uint64_t nonce, uint8_t **tx,
                      size_t *len);

/* Connect a client to the node. Returns 0 or a code (printed). */
int integ_connect(const struct integ_net *net, struct api_client *client);

/* Submit @tx; with @wait, wait for its commit. *@code gets the response
 * code (0 ok) and, when committed, *@result_code the TxResult code (may be
 * NULL). Returns 0 when a response arrived, else a transport code. */
int integ_submit(struct api_client *client, const uint8_t *tx, size_t len,
                 int wait, uint32_t *code, uint32_t *result_code);

/* Read member @id's balance; returns 0 or a code. */
int integ_balance(struct api_client *client, const char *id,
                  uint64_t *balance);

/* Read the node status: height and app hash. Returns 0 or a code. */
int integ_status(struct api_client *client, uint64_t *height,
                 uint8_t app_hash[32]);

/* Read the committed nonce of member @m's operator key (its
 * OperatorKey record). Returns 0 or a code. */
int integ_committed_nonce(struct api_client *client,
                          const struct integ_net *net, size_t m,
                          uint64_t *nonce);

/* Milliseconds of a monotonic clock. */
uint64_t integ_now_ms(void);

#endif
