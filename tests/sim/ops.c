/* The real engine's entry points, as the simulator calls them. */
#include "sim.h"

const struct sim_engine_ops sim_engine_real = SIM_ENGINE_OPS_INIT("real");
