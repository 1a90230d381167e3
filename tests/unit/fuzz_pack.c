/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/pack through the
 * pack harness (tests/fuzz/pack.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "pack"
#include "../fuzz/pack.c"
#include "../fuzz/replay.h"
