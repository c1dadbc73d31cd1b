#include "fixture.h"

/* four_call calls one_call; three_call in this comment is no call. */
int four_call(int value) { return one_call(value) + three_table[1]; }
