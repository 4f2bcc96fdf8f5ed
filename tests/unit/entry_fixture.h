/* Helpers for the tests of the catalog, classify and ownership contracts:
 * a ledger of members over contract_fixture, txs run the way execution
 * runs them (the body encoded and accepted by codec_txbody_decode first,
 * the state overlay rolled back on a refusal), catalog records read back
 * decoded, and exchange grants seeded directly (the exchange contract is
 * tested on its own). */
#ifndef TDEI_TESTS_ENTRY_FIXTURE_H
#define TDEI_TESTS_ENTRY_FIXTURE_H

#include "contract_fixture.h"

#include "contracts/contract.h"
#include "core/codec.h"

#include <stdint.h>

/* The context of the last tx run (reason, events, touched objects). */
extern struct contract_ctx fx_ctx;

/* The content roots the helpers use: 32 bytes of 0xA1, 0xB2, 0xC3. */
extern uint8_t fx_root1[32];
extern uint8_t fx_root2[32];
extern uint8_t fx_root3[32];

/* Seeded members, each with 1000 credits: pub-svc (public_service),
 * acme-steel and gamma-co (manufacturer), beta-works (platform), audit-co
 * (auditor), sleepy-co (suspended manufacturer), gone-co (removed
 * manufacturer). */
#define FX_MEMBERS 7
extern const char *const fx_members[FX_MEMBERS];

/* Start seeding: the members above and the default params; put more
 * records into the returned overlay, then call fixture_seed_end. */
struct state *fx_seed_begin(void);

/* fx_seed_begin + fixture_seed_end. */
void fx_seed(void);

/* Run @body as member @member (its role from the table above) at block
 * @height: fill the envelope, check that the codec accepts it, dispatch
 * the decoded body, commit on 0 and roll back otherwise. Returns the
 * contract's code; fx_ctx holds the reason and events. */
int fx_run(const char *member, uint64_t height, Tdei__TxBody *body);

/* Fill @p with a valid entry @id of @kind: title, description, one tag,
 * domain production, level 1 general, schema "csv:v1", price one_time 100
 * (dataset) or per_record 2 (stream), no license, no parents, content root
 * fx_root1 and size 4096 (dataset). @price is storage for the terms. */
void fx_publish_init(Tdei__CatalogPublish *p, Tdei__PriceTerms *price,
                     const char *id, uint32_t kind);

/* Run @p as catalog_publish by @member at @height. */
int fx_publish_op(const char *member, uint64_t height, Tdei__CatalogPublish *p);

/* Publish a default entry (fx_publish_init) by @member at @height with
 * @level/@data_class and license may_derive = @may_derive. Asserts 0. */
void fx_publish(const char *member, uint64_t height, const char *id,
                uint32_t kind, uint32_t level, uint32_t data_class,
                int may_derive);

/* Read entry @id: the decoded record (free with codec_dataset_free), or
 * NULL when absent. */
Tdei__Dataset *fx_dataset(const char *id);

/* Read version @version of @id, or NULL when absent. */
Tdei__DatasetVersion *fx_version(const char *id, uint64_t version);

/* Write @d directly over the entry's record (to set up unusual states). */
void fx_dataset_write(const Tdei__Dataset *d);

/* Seed, into @s or (when @s is NULL) straight into the overlay, an
 * exchange of @consumer on entry @entry owned by @owner with @status and
 * the id 32 bytes of @xid_byte, price 100, and a GrantRef
 * "grant/entry/consumer" naming it. */
void fx_grant_seed(struct state *s, const char *entry, const char *owner,
                   const char *consumer, uint32_t status, uint8_t xid_byte);

/* Read exchange @xid_byte (as seeded), or NULL. */
Tdei__Exchange *fx_exchange(uint8_t xid_byte);

/* Write member @id's status directly. */
void fx_member_status_set(const char *id, uint32_t status);

/* The sum of all seeded members' balances and escrows "escrow/" of the
 * exchange ids 1-16. */
uint64_t fx_total_credits(void);

/* The last tx's event @index: its type, and the value of attribute @key
 * (NULL when the event has none). */
const char *fx_event_type(size_t index);
const char *fx_event_attr(size_t index, const char *key);

/* Whether the last tx touched entry @id / member @id. */
int fx_touched_entry(const char *id);
int fx_touched_member(const char *id);

#endif
