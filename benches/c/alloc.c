/* Allocation: binary-trees style, as the bp program: every node is a struct with a
   separately allocated array of kids (none or two), freed after each check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct Node {
    int64_t count;
    struct Node **kids;
} Node;

static void *alloc(size_t size) {
    void *p = malloc(size);
    if (!p)
        exit(1);
    return p;
}

static Node *make(int64_t d) {
    Node *n = alloc(sizeof *n);
    if (d == 0) {
        n->count = 0;
        n->kids = alloc(sizeof(Node *)); /* bp allocates an empty array too */
        return n;
    }
    n->count = 2;
    n->kids = alloc(2 * sizeof(Node *));
    n->kids[0] = make(d - 1);
    n->kids[1] = make(d - 1);
    return n;
}

static int64_t check(const Node *n) {
    if (n->count == 0)
        return 1;
    return 1 + check(n->kids[0]) + check(n->kids[1]);
}

static void release(Node *n) {
    for (int64_t i = 0; i < n->count; i++)
        release(n->kids[i]);
    free(n->kids);
    free(n);
}

int main(void) {
    int64_t max_depth = 14;
    Node *stretch = make(max_depth + 1);
    printf("stretch %lld %lld\n", (long long)(max_depth + 1), (long long)check(stretch));
    Node *long_lived = make(max_depth);
    for (int64_t d = 4; d <= max_depth; d += 2) {
        int64_t iters = (int64_t)1 << (max_depth - d + 4);
        int64_t total = 0;
        for (int64_t i = 0; i < iters; i++) {
            Node *t = make(d);
            total = total + check(t);
            release(t);
        }
        printf("%lld trees of depth %lld check %lld\n", (long long)iters, (long long)d, (long long)total);
    }
    printf("long lived %lld %lld\n", (long long)max_depth, (long long)check(long_lived));
    release(stretch);
    release(long_lived);
    return 0;
}
