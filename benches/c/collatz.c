#include <stdio.h>
#include <stdint.h>

int main(void) {
    int64_t total = 0, longest = 0, best = 0;
    for (int64_t start = 1; start < 1000000; start++) {
        int64_t n = start, steps = 0;
        while (n != 1) {
            if (n % 2 == 0)
                n = n / 2;
            else
                n = 3 * n + 1;
            steps++;
        }
        total += steps;
        if (steps > longest) {
            longest = steps;
            best = start;
        }
    }
    printf("%lld %lld %lld\n", (long long)total, (long long)longest, (long long)best);
    return 0;
}
