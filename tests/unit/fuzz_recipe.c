/*
 * Replays the committed fuzz corpus tests/fuzz/corpus/recipe through the
 * recipe harness (tests/fuzz/recipe.c): see tests/fuzz/replay.h.
 */
#define FUZZ_NAME "recipe"
#include "../fuzz/recipe.c"
#include "../fuzz/replay.h"
