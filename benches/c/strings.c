/* Strings: formatting, join / split and concatenation, with malloc'd strings made
   the way the bp program makes them (a new string for every piece and join). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char **items;
    size_t len;
} StrList;

static void *alloc(size_t size) {
    void *p = malloc(size);
    if (!p)
        exit(1);
    return p;
}

static char *copy(const char *s, size_t len) {
    char *out = alloc(len + 1);
    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

static char *join(const StrList *list, char sep) {
    size_t total = 0;
    for (size_t i = 0; i < list->len; i++)
        total += strlen(list->items[i]) + 1;
    char *out = alloc(total + 1), *at = out;
    for (size_t i = 0; i < list->len; i++) {
        size_t len = strlen(list->items[i]);
        if (i > 0)
            *at++ = sep;
        memcpy(at, list->items[i], len);
        at += len;
    }
    *at = '\0';
    return out;
}

static StrList split(const char *s, char sep) {
    size_t count = 1;
    for (const char *p = s; *p; p++)
        count += *p == sep;
    StrList list = {alloc(count * sizeof(char *)), 0};
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == sep || *p == '\0') {
            list.items[list.len++] = copy(start, (size_t)(p - start));
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    return list;
}

static void release(StrList *list) {
    for (size_t i = 0; i < list->len; i++)
        free(list->items[i]);
    free(list->items);
}

int main(void) {
    int64_t checksum = 0, total_len = 0;
    for (int64_t round = 0; round < 600; round++) {
        StrList parts = {alloc(1000 * sizeof(char *)), 0};
        for (int64_t i = 0; i < 1000; i++) {
            char buf[48];
            int n = snprintf(buf, sizeof buf, "item%lld-%lld", (long long)i, (long long)round);
            parts.items[parts.len++] = copy(buf, (size_t)n);
        }
        char *joined = join(&parts, ',');
        StrList pieces = split(joined, ',');
        total_len = total_len + (int64_t)strlen(joined) + (int64_t)pieces.len;
        /* s = s + to_str(j % 10) + pieces[j]: a new string each time, as in bp. */
        char *s = copy("", 0);
        size_t s_len = 0;
        for (int64_t j = 0; j < 500; j++) {
            size_t piece_len = strlen(pieces.items[j]);
            char *next = alloc(s_len + 1 + piece_len + 1);
            memcpy(next, s, s_len);
            next[s_len] = (char)('0' + j % 10);
            memcpy(next + s_len + 1, pieces.items[j], piece_len + 1);
            free(s);
            s = next;
            s_len += 1 + piece_len;
        }
        StrList dashed = split(s, '-');
        char *back = join(&dashed, '+');
        checksum = (checksum * 31 + (int64_t)strlen(back) + (unsigned char)back[round]) % 1000003;
        free(back);
        release(&dashed);
        free(s);
        release(&pieces);
        free(joined);
        release(&parts);
    }
    printf("%lld %lld\n", (long long)total_len, (long long)checksum);
    return 0;
}
