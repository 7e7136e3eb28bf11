/* binary-trees (Benchmarks Game rules, depth 16): trees allocated node by node with
   malloc and freed after each check, no pool. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Node {
    struct Node *left, *right;
} Node;

static Node *make(int64_t d) {
    Node *n = malloc(sizeof *n);
    if (!n)
        exit(1);
    if (d == 0) {
        n->left = n->right = NULL;
    } else {
        n->left = make(d - 1);
        n->right = make(d - 1);
    }
    return n;
}

static int64_t check(const Node *n) {
    if (n->left == NULL)
        return 1;
    return 1 + check(n->left) + check(n->right);
}

static void release(Node *n) {
    if (n->left != NULL) {
        release(n->left);
        release(n->right);
    }
    free(n);
}

int main(void) {
    const int64_t min_depth = 4, max_depth = 16;
    Node *stretch = make(max_depth + 1);
    printf("stretch tree of depth %lld\t check: %lld\n", (long long)(max_depth + 1), (long long)check(stretch));
    release(stretch);
    Node *long_lived = make(max_depth);
    for (int64_t d = min_depth; d <= max_depth; d += 2) {
        int64_t iters = (int64_t)1 << (max_depth - d + min_depth);
        int64_t total = 0;
        for (int64_t i = 0; i < iters; i++) {
            Node *t = make(d);
            total = total + check(t);
            release(t);
        }
        printf("%lld\t trees of depth %lld\t check: %lld\n", (long long)iters, (long long)d, (long long)total);
    }
    printf("long lived tree of depth %lld\t check: %lld\n", (long long)max_depth, (long long)check(long_lived));
    release(long_lived);
    return 0;
}
