/* The entry points of one deliberately broken engine, for
 * `sim --broken VARIANT`: compiled once per variant with
 * engine_broken_names.h forced in and SIM_BROKEN_PREFIX set, so the
 * cons_* names below are that variant's renamed copies and the table is
 * named <prefix>ops (sim_quorum_ops, sim_lock_ops). */
#include "sim.h"

const struct sim_engine_ops SIM_BROKEN_NAME(ops) = {
    .name = "broken",
    .create = cons_engine_create,
    .destroy = cons_engine_destroy,
    .restore = cons_restore,
    .start_height = cons_start_height,
    .on_proposal = cons_on_proposal,
    .on_vote = cons_on_vote,
    .on_timeout = cons_on_timeout,
    .on_value = cons_on_value,
    .on_validity = cons_on_validity,
    .on_decided = cons_on_decided,
    .next_action = cons_next_action,
    .commit_votes = cons_commit_votes,
    .height = cons_height,
    .round = cons_round,
    .step = cons_step,
    .commit_verify = cons_commit_verify,
};
