#include "fixture.h"

static const char *two_text = "three_call";

int two_call(int value) { return three_call(value) + (two_text[0] == 't'); }
