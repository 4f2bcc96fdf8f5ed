/* The entry points of one deliberately broken engine, for
 * `sim --broken VARIANT`: compiled once per variant with
 * engine_broken_names.h forced in and SIM_BROKEN_PREFIX set, so the
 * cons_* names below are that variant's renamed copies and the table is
 * named <prefix>ops (sim_quorum_ops, sim_lock_ops). */
#include "sim.h"

const struct sim_engine_ops SIM_BROKEN_NAME(ops) =
    SIM_ENGINE_OPS_INIT("broken");
