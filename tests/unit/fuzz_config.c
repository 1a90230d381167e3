/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/config through the
 * config harness (tests/fuzz/config.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "config"
#include "../fuzz/config.c"
#include "../fuzz/replay.h"
