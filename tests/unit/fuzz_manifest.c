/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/manifest through the
 * manifest harness (tests/fuzz/manifest.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "manifest"
#include "../fuzz/manifest.c"
#include "../fuzz/replay.h"
