#include "fixture.h"

int three_table[2] = {1, 2};

int three_call(int value) { return value > 0 ? one_call(value - 1) : three_table[0]; }
