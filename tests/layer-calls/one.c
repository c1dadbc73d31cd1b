/* A fixture of scripts/layer-calls.py: one.c -> two.c -> three.c -> one.c is a cycle; four.c
 * only calls down; a name in a comment or a string (three_call) is no call. */
#include "fixture.h"

int one_call(int value) { return two_call(value) + 1; }
