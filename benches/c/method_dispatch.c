/* Method dispatch: a class hierarchy written with a table of function pointers per
   class. Op is the base class (apply(x) = x + 1), Inc inherits it unchanged, Add,
   Mul and Affine override it. An array of 1000 instances of the four classes, mixed,
   and a hot loop of 100 M virtual calls, each result reduced modulo 1000003. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Op Op;
typedef struct {
    int64_t (*apply)(const Op *self, int64_t x);
} OpClass;
struct Op {
    const OpClass *cls;
    int64_t a, b;
};

static int64_t op_apply(const Op *self, int64_t x) { (void)self; return x + 1; }
static int64_t add_apply(const Op *self, int64_t x) { return x + self->a; }
static int64_t mul_apply(const Op *self, int64_t x) { return x * self->a; }
static int64_t affine_apply(const Op *self, int64_t x) { return self->a * x + self->b; }

static const OpClass INC = {op_apply};
static const OpClass ADD = {add_apply};
static const OpClass MUL = {mul_apply};
static const OpClass AFFINE = {affine_apply};

#define COUNT 1000

int main(void) {
    static Op ops[COUNT];
    for (int64_t i = 0; i < COUNT; i++) {
        int64_t k = i % 97 + 2;
        switch ((i * i + 3) % 7 % 4) {
        case 0: ops[i] = (Op){&INC, 0, 0}; break;
        case 1: ops[i] = (Op){&ADD, k, 0}; break;
        case 2: ops[i] = (Op){&MUL, k, 0}; break;
        default: ops[i] = (Op){&AFFINE, k, i}; break;
        }
    }
    int64_t acc = 1;
    for (int64_t round = 0; round < 100000; round++)
        for (int64_t i = 0; i < COUNT; i++)
            acc = ops[i].cls->apply(&ops[i], acc) % 1000003;
    printf("%lld\n", (long long)acc);
    return 0;
}
