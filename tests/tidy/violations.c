/* A file that breaks each rule of scripts/tidy.sh once, beside near misses it must not flag
 * (a function of exactly 70 lines, a line of exactly 100 characters in more bytes, the
 * manual clock's start time); tests/tidy/expected.txt lists what tidy.sh must print for it.
 * Not compiled. */

/* Fixed in issue 12. */
/* Measured 2026-11-29. */
static int short_function(int a) {
	return a;
}

static int long_function(int a,
                         int b) { /* a comment after the brace */
    int sum = a + b;
    sum += 3;
    sum += 4;
    sum += 5;
    sum += 6;
    sum += 7;
    sum += 8;
    sum += 9;
    sum += 10;
    sum += 11;
    sum += 12;
    sum += 13;
    sum += 14;
    sum += 15;
    sum += 16;
    sum += 17;
    sum += 18;
    sum += 19;
    sum += 20;
    sum += 21;
    sum += 22;
    sum += 23;
    sum += 24;
    sum += 25;
    sum += 26;
    sum += 27;
    sum += 28;
    sum += 29;
    sum += 30;
    sum += 31;
    sum += 32;
    sum += 33;
    sum += 34;
    sum += 35;
    sum += 36;
    sum += 37;
    sum += 38;
    sum += 39;
    sum += 40;
    sum += 41;
    sum += 42;
    sum += 43;
    sum += 44;
    sum += 45;
    sum += 46;
    sum += 47;
    sum += 48;
    sum += 49;
    sum += 50;
    sum += 51;
    sum += 52;
    sum += 53;
    sum += 54;
    sum += 55;
    sum += 56;
    sum += 57;
    sum += 58;
    sum += 59;
    sum += 60;
    sum += 61;
    sum += 62;
    sum += 63;
    sum += 64;
    sum += 65;
    sum += 66;
    sum += 67;
    sum += 68;
    return sum; 
}

static int function_of_70_lines(int a,
                                int b) {
    int sum = a + b;
    sum += 3;
    sum += 4;
    sum += 5;
    sum += 6;
    sum += 7;
    sum += 8;
    sum += 9;
    sum += 10;
    sum += 11;
    sum += 12;
    sum += 13;
    sum += 14;
    sum += 15;
    sum += 16;
    sum += 17;
    sum += 18;
    sum += 19;
    sum += 20;
    sum += 21;
    sum += 22;
    sum += 23;
    sum += 24;
    sum += 25;
    sum += 26;
    sum += 27;
    sum += 28;
    sum += 29;
    sum += 30;
    sum += 31;
    sum += 32;
    sum += 33;
    sum += 34;
    sum += 35;
    sum += 36;
    sum += 37;
    sum += 38;
    sum += 39;
    sum += 40;
    sum += 41;
    sum += 42;
    sum += 43;
    sum += 44;
    sum += 45;
    sum += 46;
    sum += 47;
    sum += 48;
    sum += 49;
    sum += 50;
    sum += 51;
    sum += 52;
    sum += 53;
    sum += 54;
    sum += 55;
    sum += 56;
    sum += 57;
    sum += 58;
    sum += 59;
    sum += 60;
    sum += 61;
    sum += 62;
    sum += 63;
    sum += 64;
    sum += 65;
    sum += 66;
    sum += 67;
    return sum;
}

static const int table[] = {
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,
};

static int fits(void) {
    return 70; /* the manual clock starts at 2023-05-19T00:00:00Z: not a date to flag */
}
/* Exactly 100 columns, more bytes: not flagged ––––––––––––––––––––––––––––––––––––––––––––––––– */
