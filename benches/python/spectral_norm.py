import math


def a(i, j):
    ij = i + j
    return 1.0 / float(ij * (ij + 1) // 2 + i + 1)


def mul_av(v, out, n):
    for i in range(0, n):
        s = 0.0
        for j in range(0, n):
            s = s + a(i, j) * v[j]
        out[i] = s


def mul_atv(v, out, n):
    for i in range(0, n):
        s = 0.0
        for j in range(0, n):
            s = s + a(j, i) * v[j]
        out[i] = s


def mul_atav(v, out, tmp, n):
    mul_av(v, tmp, n)
    mul_atv(tmp, out, n)


def main():
    n = 2500
    u = [1.0] * n
    v = [0.0] * n
    tmp = [0.0] * n
    for _ in range(0, 10):
        mul_atav(u, v, tmp, n)
        mul_atav(v, u, tmp, n)
    vbv = 0.0
    vv = 0.0
    for i in range(0, n):
        vbv = vbv + u[i] * v[i]
        vv = vv + v[i] * v[i]
    norm = math.sqrt(vbv / vv)
    print("%g" % norm, int(norm * 1000000000.0))


main()
