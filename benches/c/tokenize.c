/* Text scanning: a tokenizer over 1.2 MB of generated source text, one character at
   a time, as the bp program: the text is built in one malloc'd buffer from the same
   parts, every word is copied into its own malloc'd string (as bp's substr makes a
   new string) and compared with the keywords by strcmp. 5 passes, 6 M characters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *alloc(size_t size) {
    void *p = malloc(size);
    if (!p)
        exit(1);
    return p;
}

static int is_word_code(int64_t k) {
    return (k >= 97 && k <= 122) || (k >= 48 && k <= 57) || k == 95;
}

int main(void) {
    static const char *const words[] = {"alpha", "beta", "x1", "count_2",
                                        "total", "if", "while", "return"};
    static const char *const ops[] = {"+", "-", "*", "(", ")", "=", "==", ",", ":"};
    const int64_t count = 200000;
    /* The parts, as the bp array of strings: two per step (a token and a separator). */
    char **parts = alloc(sizeof(char *) * (size_t)(2 * count));
    size_t nparts = 0;
    int64_t seed = 7;
    for (int64_t i = 0; i < count; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648LL;
        int64_t r = seed % 10;
        if (r < 5) {
            parts[nparts++] = (char *)words[seed / 16 % 8];
        } else if (r < 8) {
            char buf[24];
            int len = snprintf(buf, sizeof buf, "%lld", (long long)(seed % 100000));
            char *s = alloc((size_t)len + 1);
            memcpy(s, buf, (size_t)len + 1);
            parts[nparts++] = s;
        } else {
            parts[nparts++] = (char *)ops[seed / 16 % 9];
        }
        parts[nparts++] = i % 12 == 11 ? "\n" : " ";
    }
    /* str_concat_all: one buffer for the whole text. */
    size_t total = 0;
    for (size_t p = 0; p < nparts; p++)
        total += strlen(parts[p]);
    char *text = alloc(total + 1), *at = text;
    for (size_t p = 0; p < nparts; p++) {
        size_t len = strlen(parts[p]);
        memcpy(at, parts[p], len);
        at += len;
    }
    *at = '\0';
    int64_t n = (int64_t)total;
    int64_t idents = 0, keywords = 0, numbers = 0, operators = 0, lines = 0, checksum = 0;
    for (int64_t round = 0; round < 5; round++) {
        int64_t i = 0;
        while (i < n) {
            int64_t k = (unsigned char)text[i];
            if ((k >= 97 && k <= 122) || k == '_') {
                int64_t start = i;
                while (i < n && is_word_code((unsigned char)text[i]))
                    i = i + 1;
                size_t len = (size_t)(i - start);
                char *word = alloc(len + 1);
                memcpy(word, text + start, len);
                word[len] = '\0';
                idents = idents + 1;
                if (strcmp(word, "if") == 0 || strcmp(word, "while") == 0 ||
                    strcmp(word, "return") == 0)
                    keywords = keywords + 1;
                checksum = (checksum * 31 + (int64_t)strlen(word)) % 1000003;
                free(word);
            } else if (k >= 48 && k <= 57) {
                int64_t v = 0;
                while (i < n && (unsigned char)text[i] >= 48 && (unsigned char)text[i] <= 57) {
                    v = v * 10 + (unsigned char)text[i] - 48;
                    i = i + 1;
                }
                numbers = numbers + 1;
                checksum = (checksum + v) % 1000003;
            } else if (k == '\n') {
                lines = lines + 1;
                i = i + 1;
            } else if (k == ' ') {
                i = i + 1;
            } else {
                operators = operators + 1;
                if (k == '=' && i + 1 < n && text[i + 1] == '=')
                    i = i + 2;
                else
                    i = i + 1;
            }
        }
    }
    printf("%lld %lld %lld %lld %lld %lld %lld\n", (long long)n, (long long)idents,
           (long long)keywords, (long long)numbers, (long long)operators, (long long)lines,
           (long long)checksum);
    for (size_t p = 0; p < nparts; p += 2)
        if (parts[p][0] >= '0' && parts[p][0] <= '9')
            free(parts[p]);
    free(parts);
    free(text);
    return 0;
}
