/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/dplist through the
 * dplist harness (tests/fuzz/dplist.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "dplist"
#include "../fuzz/dplist.c"
#include "../fuzz/replay.h"
