/* Force-included (-include) when a deliberately broken copy of the engine
 * (tests/sim/engine_<variant>.c, made from node/consensus/engine.c by the
 * rules in Makefile.am) and its engine_broken_ops.c are compiled: every
 * entry point of engine.h gets the prefix SIM_BROKEN_PREFIX (set with -D
 * per variant), so each broken engine links into the simulator beside the
 * real one. */
#ifndef TDEI_SIM_ENGINE_BROKEN_NAMES_H
#define TDEI_SIM_ENGINE_BROKEN_NAMES_H

#define SIM_BROKEN_CAT2(a, b) a##b
#define SIM_BROKEN_CAT(a, b) SIM_BROKEN_CAT2(a, b)
#define SIM_BROKEN_NAME(x) SIM_BROKEN_CAT(SIM_BROKEN_PREFIX, x)

#define cons_engine_create SIM_BROKEN_NAME(cons_engine_create)
#define cons_engine_destroy SIM_BROKEN_NAME(cons_engine_destroy)
#define cons_restore SIM_BROKEN_NAME(cons_restore)
#define cons_start_height SIM_BROKEN_NAME(cons_start_height)
#define cons_on_proposal SIM_BROKEN_NAME(cons_on_proposal)
#define cons_on_vote SIM_BROKEN_NAME(cons_on_vote)
#define cons_on_timeout SIM_BROKEN_NAME(cons_on_timeout)
#define cons_on_value SIM_BROKEN_NAME(cons_on_value)
#define cons_on_validity SIM_BROKEN_NAME(cons_on_validity)
#define cons_on_decided SIM_BROKEN_NAME(cons_on_decided)
#define cons_next_action SIM_BROKEN_NAME(cons_next_action)
#define cons_commit_votes SIM_BROKEN_NAME(cons_commit_votes)
#define cons_height SIM_BROKEN_NAME(cons_height)
#define cons_round SIM_BROKEN_NAME(cons_round)
#define cons_step SIM_BROKEN_NAME(cons_step)
#define cons_step_name SIM_BROKEN_NAME(cons_step_name)
#define cons_commit_verify SIM_BROKEN_NAME(cons_commit_verify)

#endif
