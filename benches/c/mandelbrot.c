#include <stdio.h>
#include <stdint.h>

int main(void) {
    int64_t w = 600, h = 400, max_iter = 200;
    int64_t inside = 0, total_iter = 0;
    for (int64_t py = 0; py < h; py++) {
        double ci = (double)py * 2.0 / (double)h - 1.0;
        for (int64_t px = 0; px < w; px++) {
            double cr = (double)px * 3.0 / (double)w - 2.0;
            double zr = 0.0, zi = 0.0;
            int64_t n = 0;
            while (n < max_iter && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                n = n + 1;
            }
            if (n == max_iter)
                inside = inside + 1;
            total_iter = total_iter + n;
        }
    }
    printf("%lld %lld\n", (long long)inside, (long long)total_iter);
    return 0;
}
