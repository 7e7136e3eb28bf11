/* Closures in a hot loop: a closure is a function pointer with its captured values.
   100 closures of three kinds (adder, scaler, affine) are called in turn, 60 M calls
   in all, and every round makes (mallocs) a fresh adder capturing the round number. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Closure Closure;
struct Closure {
    int64_t (*call)(const Closure *self, int64_t x);
    int64_t a, b;
};

static int64_t adder(const Closure *c, int64_t x) { return (x + c->a) % 1000003; }
static int64_t scaler(const Closure *c, int64_t x) { return (x * c->a) % 1000003; }
static int64_t affine(const Closure *c, int64_t x) { return (c->a * x + c->b) % 1000003; }

static Closure *make(int64_t (*call)(const Closure *, int64_t), int64_t a, int64_t b) {
    Closure *c = malloc(sizeof *c);
    if (!c)
        exit(1);
    c->call = call;
    c->a = a;
    c->b = b;
    return c;
}

#define COUNT 100

int main(void) {
    Closure *fs[COUNT];
    for (int64_t i = 0; i < COUNT; i++) {
        int64_t k = i % 13 + 2;
        if (i % 3 == 0)
            fs[i] = make(adder, k, 0);
        else if (i % 3 == 1)
            fs[i] = make(scaler, k, 0);
        else
            fs[i] = make(affine, k, i);
    }
    int64_t acc = 1;
    for (int64_t round = 0; round < 600000; round++) {
        Closure *shift = make(adder, round % 1000, 0);
        for (int64_t i = 0; i < COUNT; i++)
            acc = fs[i]->call(fs[i], acc);
        acc = shift->call(shift, acc);
        free(shift);
    }
    printf("%lld\n", (long long)acc);
    for (int64_t i = 0; i < COUNT; i++)
        free(fs[i]);
    return 0;
}
