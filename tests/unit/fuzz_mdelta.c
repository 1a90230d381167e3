/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/mdelta through the
 * delta harness (tests/fuzz/mdelta.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "mdelta"
#include "../fuzz/mdelta.c"
#include "../fuzz/replay.h"
