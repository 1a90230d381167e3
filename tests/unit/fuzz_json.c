/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/json through the
 * JSON writer harness (tests/fuzz/json.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "json"
#include "../fuzz/json.c"
#include "../fuzz/replay.h"
