#include <math.h>
#include <stdint.h>
#include <stdio.h>

#define N 2500

static double a(int64_t i, int64_t j) {
    int64_t ij = i + j;
    return 1.0 / (double)(ij * (ij + 1) / 2 + i + 1);
}

static void mul_av(const double *v, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++)
            s = s + a(i, j) * v[j];
        out[i] = s;
    }
}

static void mul_atv(const double *v, double *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int64_t j = 0; j < n; j++)
            s = s + a(j, i) * v[j];
        out[i] = s;
    }
}

static void mul_atav(const double *v, double *out, double *tmp, int64_t n) {
    mul_av(v, tmp, n);
    mul_atv(tmp, out, n);
}

int main(void) {
    static double u[N], v[N], tmp[N];
    for (int64_t i = 0; i < N; i++)
        u[i] = 1.0;
    for (int round = 0; round < 10; round++) {
        mul_atav(u, v, tmp, N);
        mul_atav(v, u, tmp, N);
    }
    double vbv = 0.0, vv = 0.0;
    for (int64_t i = 0; i < N; i++) {
        vbv = vbv + u[i] * v[i];
        vv = vv + v[i] * v[i];
    }
    double norm = sqrt(vbv / vv);
    printf("%g %lld\n", norm, (long long)(norm * 1000000000.0));
    return 0;
}
