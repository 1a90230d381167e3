/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/proto through the
 * proto harness (tests/fuzz/proto.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "proto"
#include "../fuzz/proto.c"
#include "../fuzz/replay.h"
