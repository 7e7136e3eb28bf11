/* Maps: the bp program's {int: int} and {str: int} as two open-addressing hash
   tables (linear probing, tombstones for deletion, doubled when 3/4 full). The
   string keys are built with snprintf for every insert and lookup, as the bp
   program builds "k" + to_str(i). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *alloc_zeroed(size_t count, size_t size) {
    void *p = calloc(count, size);
    if (!p)
        exit(1);
    return p;
}

static uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* ---- {int: int}; keys are >= 0, so -1 marks an empty slot and -2 a deleted one. */
enum { EMPTY = -1, DELETED = -2 };
typedef struct {
    int64_t *keys, *values;
    size_t cap, used, len; /* used counts live and deleted slots */
} IntMap;

static void int_map_init(IntMap *m, size_t cap) {
    m->keys = alloc_zeroed(cap, sizeof *m->keys);
    m->values = alloc_zeroed(cap, sizeof *m->values);
    for (size_t i = 0; i < cap; i++)
        m->keys[i] = EMPTY;
    m->cap = cap;
    m->used = m->len = 0;
}

static size_t int_map_find(const IntMap *m, int64_t key) {
    size_t i = mix((uint64_t)key) & (m->cap - 1);
    while (m->keys[i] != EMPTY && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void int_map_set(IntMap *m, int64_t key, int64_t value);

static void int_map_grow(IntMap *m) {
    IntMap old = *m;
    int_map_init(m, old.cap * 2);
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] >= 0)
            int_map_set(m, old.keys[i], old.values[i]);
    free(old.keys);
    free(old.values);
}

static void int_map_set(IntMap *m, int64_t key, int64_t value) {
    size_t i = int_map_find(m, key);
    if (m->keys[i] == EMPTY) {
        if ((m->used + 1) * 4 > m->cap * 3) {
            int_map_grow(m);
            i = int_map_find(m, key);
        }
        m->keys[i] = key;
        m->used++;
        m->len++;
    }
    m->values[i] = value;
}

static int64_t *int_map_get(const IntMap *m, int64_t key) {
    size_t i = int_map_find(m, key);
    return m->keys[i] == key ? &m->values[i] : NULL;
}

static void int_map_delete(IntMap *m, int64_t key) {
    size_t i = int_map_find(m, key);
    if (m->keys[i] == key) {
        m->keys[i] = DELETED;
        m->len--;
    }
}

/* ---- {str: int} (no deletion). */
typedef struct {
    char **keys;
    int64_t *values;
    size_t cap, len;
} StrMap;

static uint64_t str_hash(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return mix(h);
}

static void str_map_init(StrMap *m, size_t cap) {
    m->keys = alloc_zeroed(cap, sizeof *m->keys);
    m->values = alloc_zeroed(cap, sizeof *m->values);
    m->cap = cap;
    m->len = 0;
}

static size_t str_map_find(const StrMap *m, const char *key) {
    size_t i = str_hash(key) & (m->cap - 1);
    while (m->keys[i] != NULL && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void str_map_insert_new(StrMap *m, char *key, int64_t value) {
    if ((m->len + 1) * 4 > m->cap * 3) {
        StrMap old = *m;
        str_map_init(m, old.cap * 2);
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                str_map_insert_new(m, old.keys[i], old.values[i]);
        free(old.keys);
        free(old.values);
    }
    size_t i = str_map_find(m, key);
    m->keys[i] = key;
    m->values[i] = value;
    m->len++;
}

static char *make_key(int64_t n) {
    char *key = alloc_zeroed(24, 1);
    snprintf(key, 24, "k%lld", (long long)n);
    return key;
}

int main(void) {
    const int64_t n = 200000;
    IntMap ints;
    int_map_init(&ints, 16);
    for (int64_t i = 0; i < n; i++)
        int_map_set(&ints, (i * 7919) % 1000003, i);
    int64_t hits = 0, sum = 0;
    for (int64_t i = 0; i < 2 * n; i++) {
        int64_t k = (i * 7919) % 1000003;
        if (int_map_get(&ints, k)) {
            hits = hits + 1;
            sum = (sum + *int_map_get(&ints, k)) % 1000000007;
        }
    }
    for (int64_t i = 0; i < 2000; i++)
        int_map_delete(&ints, (i * 7919) % 1000003);
    StrMap strs;
    str_map_init(&strs, 16);
    for (int64_t i = 0; i < n; i++) {
        char *key = make_key(i % 20000);
        size_t at = str_map_find(&strs, key);
        if (strs.keys[at]) {
            strs.values[at] = strs.values[at] + i;
            free(key);
        } else {
            str_map_insert_new(&strs, key, i);
        }
    }
    int64_t ssum = 0;
    for (int64_t r = 0; r < 5; r++) {
        for (int64_t i = 0; i < 20000; i++) {
            char *key = make_key(i);
            ssum = (ssum + strs.values[str_map_find(&strs, key)]) % 1000000007;
            free(key);
        }
    }
    printf("%lld %lld %lld %lld %lld\n", (long long)ints.len, (long long)hits, (long long)sum,
           (long long)strs.len, (long long)ssum);
    return 0;
}
