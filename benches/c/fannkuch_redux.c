#include <stdint.h>
#include <stdio.h>

#define N 10

int main(void) {
    int64_t perm1[N], perm[N], count[N];
    for (int64_t i = 0; i < N; i++)
        perm1[i] = i;
    int64_t max_flips = 0, checksum = 0, perm_count = 0, r = N;
    for (;;) {
        while (r != 1) {
            count[r - 1] = r;
            r = r - 1;
        }
        for (int64_t i = 0; i < N; i++)
            perm[i] = perm1[i];
        int64_t flips = 0;
        int64_t k = perm[0];
        while (k != 0) {
            int64_t lo = 0, hi = k;
            while (lo < hi) {
                int64_t t = perm[lo];
                perm[lo] = perm[hi];
                perm[hi] = t;
                lo = lo + 1;
                hi = hi - 1;
            }
            flips = flips + 1;
            k = perm[0];
        }
        if (flips > max_flips)
            max_flips = flips;
        if (perm_count % 2 == 0)
            checksum = checksum + flips;
        else
            checksum = checksum - flips;
        for (;;) {
            if (r == N) {
                printf("%lld\nPfannkuchen(%d) = %lld\n", (long long)checksum, N, (long long)max_flips);
                return 0;
            }
            int64_t first = perm1[0];
            for (int64_t i = 0; i < r; i++)
                perm1[i] = perm1[i + 1];
            perm1[r] = first;
            count[r] = count[r] - 1;
            if (count[r] > 0)
                break;
            r = r + 1;
        }
        perm_count = perm_count + 1;
    }
}
