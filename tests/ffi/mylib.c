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

/* All argument registers of both classes on AArch64: 8 integer and 8 float arguments, interleaved. */
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

/* More arguments than registers, ints and doubles interleaved: the overflow of
   both classes goes to the stack in declaration order. Returns a weighted sum
   that differs for any misplaced argument. */
double mixed30(long a1, double b1, long a2, double b2, long a3, double b3, long a4, double b4,
               long a5, double b5, long a6, double b6, long a7, double b7, long a8, double b8,
               long a9, double b9, long a10, double b10, long a11, double b11, long a12, double b12,
               long a13, double b13, long a14, double b14, long a15, double b15) {
    long as[15] = {a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
    double bs[15] = {b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15};
    double total = 0.0;
    for (int k = 0; k < 15; k++) {
        total += (double)(as[k] * (k + 1)) + bs[k] * (double)(k + 1) / 1000.0;
    }
    return total;
}

/* Twenty integer-class arguments of mixed widths. */
long ints20(long a, int b, long c, int d, long e, int f, long g, int h, long i, int j,
            long k, int l, long m, int n, long o, int p, long q, int r, long s, int t) {
    long v[20] = {a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q, r, s, t};
    long total = 0;
    for (int x = 0; x < 20; x++) {
        total += v[x] * (x + 1);
    }
    return total;
}
