/*
 * A small C library for the FFI tests (docs/ffi.md). The runtime's unit tests
 * (runtime/src/ffi.rs) build it at test time with `cc -shared -fPIC` into a
 * temporary directory and call every function below through `FfiTable`.
 *
 * Functions that take several arguments weight them by position, so an argument
 * passed in the wrong register or stack slot changes the result.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* int(int, int) */
int add_ints(int a, int b) { return a + b; }

/* double(double, double) */
double add_doubles(double a, double b) { return a + b; }

/* double(double) */
double half(double x) { return x / 2.0; }

/* int(const char*): number of vowels. */
int count_vowels(const char *s) {
    int n = 0;
    for (; *s; s++) {
        if (strchr("aeiouAEIOU", *s)) n++;
    }
    return n;
}

/* const char*(void) */
const char *greeting(void) { return "hello from mylib"; }

/* const char*(void) returning NULL */
const char *no_string(void) { return NULL; }

/* Mixed int and float arguments, interleaved. */
double mix4(double a, int b, double c, int d) { return a + 10.0 * b + 100.0 * c + 1000.0 * d; }

/* Eight integer-class arguments: on x86-64 the 7th and 8th are on the stack. */
long sum8(long a, long b, long c, long d, long e, long f, long g, long h) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

/* The largest supported shape: 8 integer and 8 float arguments, interleaved. */
double mix16(long a, double p, long b, double q, long c, double r, long d, double s,
             long e, double t, long f, double u, long g, double v, long h, double w) {
    return (double)(a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h) +
           (p + 2 * q + 3 * r + 4 * s + 5 * t + 6 * u + 7 * v + 8 * w) / 1000.0;
}

/* Pointers: a static struct handed out and read back. */
struct point {
    long x;
    long y;
};
static struct point the_point = {3, 4};

struct point *get_point(void) { return &the_point; }
long point_sum(const struct point *p) { return p ? p->x + p->y : -1; }
void point_set(struct point *p, long x, long y) {
    p->x = x;
    p->y = y;
}
void *null_ptr(void) { return NULL; }

/* void with a side effect, read back by another call. */
static long counter;
void counter_add(long n) { counter += n; }
long counter_get(void) { return counter; }

/* Narrow results: the upper register bits are unspecified by the ABI. */
int negate(int x) { return -x; }
bool is_positive(long x) { return x > 0; }
unsigned char low_byte(long x) { return (unsigned char)x; }
signed char as_schar(long x) { return (signed char)x; }
bool bool_not(bool b) { return !b; }

/* double(long, long) */
double ratio(long a, long b) { return (double)a / (double)b; }

/* The string argument is a NUL-terminated copy. */
size_t byte_len(const char *s) { return strlen(s); }
