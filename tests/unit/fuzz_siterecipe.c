/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/siterecipe through
 * the site recipe harness (tests/fuzz/siterecipe.c): see
 * tests/fuzz/replay.h.
 */
#define FUZZ_NAME "siterecipe"
#include "../fuzz/siterecipe.c"
#include "../fuzz/replay.h"
