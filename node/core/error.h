/* tdei error codes: one list for the whole node.
 *
 * Every fallible function returns int: 0 on success or one of the codes
 * below. Codes are stable numbers (they are stored in transaction results
 * on the ledger, so a code is never renumbered or reused) and live above
 * 1000 so that they never collide with errno values or LMDB's MDB_* codes.
 * Each code has a stable name ("TDEI_BADSIG") and a message that says what
 * was wrong and what to do about it.
 *
 * Pointers passed to these functions are non-NULL unless stated. */
#ifndef TDEI_CORE_ERROR_H
#define TDEI_CORE_ERROR_H

#include <stddef.h>

/* X(name, number, message) */
#define TDEI_ERRORS(X)                                                        \
    X(TDEI_NOMEM, 1001, "out of memory; free memory or lower the configured " \
                        "limits")                                             \
    X(TDEI_INVAL, 1002, "invalid argument; check the value against the "      \
                        "documented range")                                   \
    X(TDEI_IOERR, 1003, "input/output error; check the path, the disk and "   \
                        "the permissions")                                    \
    X(TDEI_NOTFOUND, 1004, "not found; check the name, id or path")           \
    X(TDEI_EXISTS, 1005, "already exists; choose another name or remove the " \
                         "old one first")                                     \
    X(TDEI_PERM, 1006, "permission denied; check file modes and ownership")   \
    X(TDEI_TOOBIG, 1007, "input exceeds its size limit; send less or raise "  \
                         "the named limit")                                   \
    X(TDEI_MALFORMED, 1008, "malformed input; it does not decode as the "     \
                            "expected format")                                \
    X(TDEI_BADHEX, 1009, "bad hex string; use an even number of 0-9a-f "      \
                         "digits of the expected length")                     \
    X(TDEI_BADKEY, 1010, "invalid key; the bytes are not a valid key of this " \
                         "kind")                                              \
    X(TDEI_BADSIG, 1011, "signature verification failed; the data, the key "  \
                         "or the signature was altered")                      \
    X(TDEI_BADPROOF, 1012, "proof verification failed; the proof does not "    \
                           "lead to the expected root")                       \
    X(TDEI_KEYFILE_MODE, 1013, "key file is readable by group or others; "    \
                               "run chmod 600 on it")                         \
    X(TDEI_KEYFILE_FORMAT, 1014, "key file is damaged or truncated; restore " \
                                 "it from a backup")                          \
    X(TDEI_PASSPHRASE, 1015, "wrong passphrase or altered key file; check "   \
                             "the passphrase or restore the file")            \
    X(TDEI_NEED_PASSPHRASE, 1016, "key file is encrypted; give the "          \
                                  "passphrase (TDEI_PASSPHRASE or "           \
                                  "--passphrase-file)")                       \
    X(TDEI_VERSION, 1017, "unsupported format version; upgrade tdei or use "  \
                          "a file written by this version")                   \
    X(TDEI_CONFIG, 1018, "bad configuration; fix the named key in "           \
                         "config.ini")                                        \
    X(TDEI_CHAIN_ID, 1019, "wrong chain id; the message belongs to another "  \
                           "network")                                         \
    X(TDEI_CRYPTO, 1020, "cryptographic library failure; check that "         \
                         "libsodium and libsecp256k1 are installed correctly") \
    X(TDEI_BADREQUEST, 1021, "bad request; see the message for the field "    \
                             "that was wrong")                                \
    X(TDEI_UNKNOWN_OP, 1022, "unknown tx op; this node does not know the "    \
                             "operation, so upgrade tdei or have the sender " \
                             "use this network's version")                    \
    X(TDEI_LOCKED, 1023, "data directory is in use by another process; "      \
                         "stop that process first")                           \
    X(TDEI_NOSPACE, 1024, "storage is full; free disk space or raise the "    \
                          "named size limit")                                 \
    X(TDEI_CORRUPT, 1025, "stored data failed a consistency check; restore "  \
                          "the data directory from a backup or resync")       \
    X(TDEI_BUSY, 1026, "every slot of a bounded resource is in use; retry "   \
                       "later or raise the named limit")                      \
    X(TDEI_INSUFFICIENT_FUNDS, 1027, "balance too low for the amount; "       \
                                     "lower the amount or fund the account "  \
                                     "first")                                 \
    X(TDEI_UNKNOWN_MEMBER, 1028, "no such member on the ledger; check the "   \
                                 "member id")                                 \
    X(TDEI_MEMBER_INACTIVE, 1029, "the member is suspended or removed; ask "  \
                                  "the members to reinstate it or name an "   \
                                  "active member")                            \
    X(TDEI_SELF_TRANSFER, 1030, "a member cannot pay itself; name another "   \
                                "member as the receiver")                     \
    X(TDEI_BAD_AMOUNT, 1031, "the amount is outside its range; give at "      \
                             "least 1 credit")                                \
    X(TDEI_OVERFLOW, 1032, "the result would exceed the largest balance "     \
                           "(2^64-1 credits); lower the amount")              \
    X(TDEI_ROLE, 1033, "the signer's member role may not do this; have a "    \
                       "member of the named role sign it")                    \
    X(TDEI_DISABLED, 1034, "the operation is switched off by a ledger "       \
                           "param; ask governance to enable the named "       \
                           "param")                                           \
    X(TDEI_BUDGET, 1035, "the tx exceeded its execution budget (steps, "      \
                         "bytes written or events); split it into smaller " \
                         "txs")                                               \
    X(TDEI_NONCE, 1036, "wrong nonce; use the signer's last nonce plus 1 "    \
                        "(query the account)")                                \
    X(TDEI_UNKNOWN_SIGNER, 1037, "the signing key is not an operator key of " \
                                 "an active member; register the key or "     \
                                 "sign with a registered one")                \
    X(TDEI_BAD_BLOCK, 1038, "the block does not follow the committed chain "  \
                            "(height, parent, roots or hashes); the sender "  \
                            "is faulty, so fetch the block from another "     \
                            "peer")                                           \
    X(TDEI_GENESIS_MISMATCH, 1039, "genesis.json differs from the one the "   \
                                   "data directory was created with; use "    \
                                   "the original file or a fresh data "       \
                                   "directory")                               \
    X(TDEI_NONCE_USED, 1040, "the nonce was already used by a committed tx "  \
                             "of this signer (a replay); sign again with "    \
                             "the committed nonce plus 1")                    \
    X(TDEI_NONCE_GAP, 1041, "the nonce is too far ahead of the signer's "     \
                            "committed nonce; send the missing txs first or " \
                            "raise mempool.nonce_window")                     \
    X(TDEI_DUPLICATE, 1042, "the same tx is already pending; wait for it to " \
                            "be committed instead of sending it again")       \
    X(TDEI_NONCE_TAKEN, 1043, "another tx of this signer with this nonce is " \
                              "pending (no replacement); wait for it to "     \
                              "commit, then use the next nonce")              \
    X(TDEI_SIGNER_FULL, 1044, "the signer has too many pending txs; wait "    \
                              "for some to commit or raise "                  \
                              "mempool.max_per_signer")                       \
    X(TDEI_MEMPOOL_FULL, 1045, "the mempool is full; retry later or raise "   \
                               "mempool.max_txs or mempool.max_bytes")        \
    X(TDEI_CANCELED, 1046, "the operation was canceled because the module "   \
                           "is shutting down; retry after the restart")      \
    X(TDEI_TIMEOUT, 1047, "the operation did not finish in time; retry, or "  \
                          "raise the named timeout")                          \
    X(TDEI_NOCONN, 1048, "cannot reach the node or the connection was lost; " \
                         "check that tdei-node is running and the address")   \
    X(TDEI_ADDR_IN_USE, 1049, "the address or socket is in use by another "   \
                              "process; stop that process or change "         \
                              "api.socket / api.listen")                      \
    X(TDEI_NOT_VOTER, 1050, "only an active voting member (not an auditor, "  \
                            "not suspended) may propose or vote; have a "     \
                            "voting member sign it")                          \
    X(TDEI_UNKNOWN_PROPOSAL, 1051, "no such member proposal; check the "      \
                                   "proposal id (the proposing tx id)")       \
    X(TDEI_PROPOSAL_CLOSED, 1052, "the member proposal is already decided; "  \
                                  "make a new proposal")                      \
    X(TDEI_PROPOSAL_EXPIRED, 1053, "the member proposal expired "             \
                                   "(params.proposal_ttl blocks); make a new " \
                                   "proposal")                                \
    X(TDEI_ALREADY_VOTED, 1054, "the member already voted on this "           \
                                "proposal; one vote per member, whatever "    \
                                "its operator keys")                          \
    X(TDEI_MEMBER_EXISTS, 1055, "the member id, node key or operator key is " \
                                "already registered; choose another")         \
    X(TDEI_MEMBER_STATE, 1056, "the member's status does not allow this "     \
                               "change; check the member's status first")  \
    X(TDEI_UNKNOWN_PARAM, 1057, "no such governable param; see tdei member "   \
                                "params for the list")                        \
    X(TDEI_PARAM_RANGE, 1058, "the param value is outside its range; give a " \
                              "value in the named range")                     \
    X(TDEI_KEY_LIMIT, 1059, "the member already holds the most operator "     \
                            "keys (8); remove one first")                     \
    X(TDEI_UNKNOWN_KEY, 1060, "the key is not an operator key of the "        \
                              "signer's member; check the key")               \
    X(TDEI_LAST_KEY, 1061, "a member keeps at least one operator key; add "   \
                           "the new key before removing the last one")        \
    X(TDEI_SIGNING_KEY, 1062, "a tx cannot remove the key that signs it; "    \
                              "sign the removal with another operator key "   \
                              "of the member")                                \
    X(TDEI_DATASET_EXISTS, 1063, "a catalog entry with this id already "      \
                                 "exists (ids are never reused); choose "     \
                                 "another id")                                \
    X(TDEI_UNKNOWN_DATASET, 1064, "no such catalog entry; check the id "      \
                                  "with tdei catalog search")                 \
    X(TDEI_NOT_OWNER, 1065, "only the entry's owner may do this; have the "   \
                            "owner sign it")                                  \
    X(TDEI_DATASET_STATE, 1066, "the entry's kind or status does not "        \
                                "allow this; check it with tdei catalog "     \
                                "show")                                       \
    X(TDEI_LINEAGE, 1067, "a parent entry is missing, or the publisher "      \
                          "neither owns it nor holds a grant whose "          \
                          "license allows derivation; obtain a licensed "     \
                          "grant first")                                      \
    X(TDEI_LABELS, 1068, "the level and class are not an allowed pair; "      \
                         "use L1 general, L2 general or important, L3 "       \
                         "important or core")                                 \
    X(TDEI_NOTHING_PENDING, 1069, "there is nothing pending to approve, "     \
                                  "accept or cancel; check the entry's "      \
                                  "state")                                    \
    X(TDEI_PRICE_MISMATCH, 1070, "the expected price differs from the "       \
                                 "catalog price; read the price with tdei "   \
                                 "catalog show and ask again")                \
    X(TDEI_POLICY, 1071, "the level's policy does not allow this receiver "   \
                         "or request; read the policy in the params and "     \
                         "the reason")                                        \
    X(TDEI_UNKNOWN_EXCHANGE, 1072, "no such exchange; check the exchange "    \
                                   "id (the request tx id)")                  \
    X(TDEI_EXCHANGE_STATE, 1073, "the exchange is not at the step this "      \
                                 "needs; check its status with tdei "         \
                                 "exchange show")                             \
    X(TDEI_NOT_PARTY, 1074, "the signer's member has no part in this step "   \
                            "of the exchange; have the consumer, owner or "   \
                            "regulator sign it")                              \
    X(TDEI_CONTENT_MISMATCH, 1075, "the content root differs from the "       \
                                   "requested version's; deliver that "       \
                                   "version")                                 \
    X(TDEI_GRANT_TTL, 1076, "the grant asked for is longer than the level "   \
                            "or class allows; ask for fewer blocks")          \
    X(TDEI_OWN_DATASET, 1077, "a member cannot request its own entry; it "    \
                              "already holds the data")                       \
    X(TDEI_STREAM_STATE, 1078, "the stream is not open (never opened, or "    \
                               "closed); open it first")                      \
    X(TDEI_STREAM_SEQ, 1079, "the batch does not continue the stream's "      \
                             "sequence exactly; start at the stream's "       \
                             "next sequence number")                          \
    X(TDEI_STREAM_TIME, 1080, "the batch's timestamps go backwards; "         \
                              "timestamps must be monotonic")                 \
    X(TDEI_STREAM_STALE, 1081, "the batch is older than params.max_lag_ms "   \
                               "behind block time; collect and send in "      \
                               "real time")                                   \
    X(TDEI_STREAM_AHEAD, 1082, "the batch is later than "                     \
                               "params.max_clock_skew_ms ahead of block "     \
                               "time; check the collector's clock")           \
    X(TDEI_SUBS_LIMIT, 1083, "the stream has the most live subscriptions; "   \
                             "wait for one to end")                           \
    X(TDEI_SIGN_BACKWARDS, 1084, "the double-sign guard refuses to sign for " \
                                 "an earlier height, round or step than the " \
                                 "last one signed; restart the node so that " \
                                 "consensus resumes from the guard's record") \
    X(TDEI_SIGN_CONFLICT, 1085, "the double-sign guard holds another "        \
                                "message for this height, round and step "    \
                                "(signing would be a double sign); re-send "  \
                                "the stored message instead")                 \
    X(TDEI_NOT_VALIDATOR, 1086, "the key is not a validator of the current "  \
                                "set; evidence is taken against current "     \
                                "validators only")                            \
    X(TDEI_EVIDENCE_EXISTS, 1087, "this equivocation is already recorded on " \
                                  "the ledger; there is nothing more to "     \
                                  "submit")                                   \
    X(TDEI_NO_QUORUM, 1088, "the commit lacks precommits of more than 2/3 "   \
                            "of the validators; fetch the block and its "     \
                            "commit from another peer")                       \
    X(TDEI_WRONG_HEIGHT, 1089, "the consensus message is for another height " \
                               "than the one being decided; it is late, or "  \
                               "this node must sync blocks first")            \
    X(TDEI_ROUND_RANGE, 1090, "the consensus message's round is outside the " \
                              "rounds kept for this height (63 behind, 64 "   \
                              "ahead); it is too old or too far ahead, so it " \
                              "is dropped")                                   \
    X(TDEI_NOT_PROPOSER, 1091, "the proposal is not signed by the proposer "  \
                               "of its height and round ((height + round) "   \
                               "mod n over the sorted validators); the "      \
                               "sender is faulty, so it is dropped")          \
    X(TDEI_EQUIVOCATION, 1092, "the validator signed two different messages " \
                               "for one height, round and step; the first "   \
                               "one counts and the second is dropped (votes " \
                               "become evidence)")                        \
    X(TDEI_HANDSHAKE, 1093, "the peer handshake failed (another chain or "    \
                            "version, a bad key or signature); check the "    \
                            "peer's genesis and node key")                    \
    X(TDEI_NOT_MEMBER, 1094, "the peer's node key is not the node key of an " \
                             "active member; it is refused until governance " \
                             "adds it")                                       \
    X(TDEI_FRAME, 1095, "a sealed frame did not open (tampered, replayed, "   \
                        "reordered or truncated); the connection is closed")  \
    X(TDEI_FULL, 1096, "the peer's send queue is full; the message is "       \
                       "dropped for that slow peer")                          \
    X(TDEI_BANNED, 1097, "the peer is banned for a while after invalid "      \
                         "messages; it may reconnect when the ban ends")      \
    X(TDEI_NO_GRANT, 1098, "the member holds no live grant for this data "    \
                           "(not delivered or settled, expired, or "          \
                           "revoked); request it again")                      \
    X(TDEI_NOT_DELIVERED, 1099, "the exchange is not delivered yet; wait "    \
                                "for the owner's node to deliver it")          \
    X(TDEI_NO_VALIDATORS, 1100, "the change would leave no validator; add "   \
                                "another validator first")                    \
    X(TDEI_VALIDATORS_FULL, 1101, "the change would pass "                    \
                                  "params.validators_max validators; remove " \
                                  "a validator first")

enum tdei_error {
    TDEI_OK = 0,
#define TDEI_ERROR_ENUM(name, number, message) name = number,
    TDEI_ERRORS(TDEI_ERROR_ENUM)
#undef TDEI_ERROR_ENUM
};

/* Return the message of @code: what was wrong and what to do. Unknown codes
 * give "unknown error code". Never returns NULL; the string is static. */
const char *tdei_strerror(int code);

/* Return the stable name of @code ("TDEI_BADSIG", "TDEI_OK"), or
 * "TDEI_UNKNOWN" for a number that is not in the list. Static string. */
const char *tdei_errname(int code);

/* Write "fmt..." into @errmsg (of @size bytes), always NUL-terminated,
 * truncated if needed. Returns @code so that callers can write
 * `return tdei_errorf(errmsg, size, TDEI_IOERR, "open %s", path);`. */
int tdei_errorf(char *errmsg, size_t size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prefix the text already in @errmsg with "fmt: ", keeping it NUL-
 * terminated. Returns @code (see tdei_errorf). */
int tdei_errwrap(char *errmsg, size_t size, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The size every module uses for its errmsg buffers. */
#define TDEI_ERRMSG_SIZE 256

#endif
