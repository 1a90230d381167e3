/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/mchanges through
 * the harness of manifests rebuilt from changes (tests/fuzz/mchanges.c):
 * see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "mchanges"
#include "../fuzz/mchanges.c"
#include "../fuzz/replay.h"
