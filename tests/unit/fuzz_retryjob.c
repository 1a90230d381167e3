/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/retryjob through the
 * retryjob harness (tests/fuzz/retryjob.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "retryjob"
#include "../fuzz/retryjob.c"
#include "../fuzz/replay.h"
