/* String building: each line is appended to a growing buffer, as a string
   builder would (the C twin cannot share bp's immutable strings). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    int64_t total = 0, checksum = 0;
    size_t cap = 16;
    char *s = malloc(cap);
    if (!s)
        return 1;
    for (int64_t i = 0; i < 200000; i++) {
        size_t len = 0;
        for (int64_t j = 0; j < 30; j++) {
            char num[24];
            int n = snprintf(num, sizeof num, "%lld", (long long)(i * 31 + j));
            if (len + (size_t)n + 1 > cap) {
                cap = 2 * (len + (size_t)n + 1);
                s = realloc(s, cap);
                if (!s)
                    return 1;
            }
            memcpy(s + len, num, (size_t)n);
            len += (size_t)n;
            s[len++] = ',';
        }
        total = total + (int64_t)len;
        checksum = (checksum * 31 + (unsigned char)s[i % (int64_t)len]) % 1000003;
    }
    printf("%lld %lld\n", (long long)total, (long long)checksum);
    free(s);
    return 0;
}
