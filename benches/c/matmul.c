#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static double *make(int64_t n, int64_t seed) {
    double *a = malloc(sizeof(double) * (size_t)(n * n));
    int64_t s = seed;
    for (int64_t i = 0; i < n * n; i++) {
        s = (s * 1103515245 + 12345) % 2147483648LL;
        a[i] = (double)(s % 1000) / 100.0 - 5.0;
    }
    return a;
}

static double *matmul(const double *a, const double *b, int64_t n) {
    double *c = calloc((size_t)(n * n), sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < n; k++) {
            double aik = a[i * n + k];
            int64_t row = k * n, out = i * n;
            for (int64_t j = 0; j < n; j++)
                c[out + j] = c[out + j] + aik * b[row + j];
        }
    return c;
}

static double c_trace(const double *a, const double *b, int64_t n) {
    double *c = matmul(a, b, n);
    double t = 0.0;
    for (int64_t i = 0; i < n; i++)
        t = t + c[i * n + i];
    free(c);
    return t;
}

int main(void) {
    int64_t n = 200;
    double *a = make(n, 42);
    double *b = make(n, 7);
    double sum = 0.0;
    for (int64_t rep = 0; rep < 3; rep++) {
        double *c = matmul(a, b, n);
        for (int64_t i = 0; i < n * n; i++)
            sum = sum + c[i];
        free(c);
        a[rep] = a[rep] + 1.0;
    }
    double tr = c_trace(a, b, n);
    printf("%g %g %lld %lld\n", sum, tr, (long long)(sum * 1000.0), (long long)(tr * 1000.0));
    free(a);
    free(b);
    return 0;
}
