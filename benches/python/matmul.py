def fmt(v):
    return "%g" % v


def make(n, seed):
    a = [0.0] * (n * n)
    s = seed
    for i in range(0, n * n):
        s = (s * 1103515245 + 12345) % 2147483648
        a[i] = float(s % 1000) / 100.0 - 5.0
    return a


def matmul(a, b, n):
    c = [0.0] * (n * n)
    for i in range(0, n):
        for k in range(0, n):
            aik = a[i * n + k]
            row = k * n
            out = i * n
            for j in range(0, n):
                c[out + j] = c[out + j] + aik * b[row + j]
    return c


def c_trace(a, b, n):
    c = matmul(a, b, n)
    t = 0.0
    for i in range(0, n):
        t = t + c[i * n + i]
    return t


def main():
    n = 200
    a = make(n, 42)
    b = make(n, 7)
    total = 0.0
    for rep in range(0, 3):
        c = matmul(a, b, n)
        for i in range(0, n * n):
            total = total + c[i]
        a[rep] = a[rep] + 1.0
    tr = c_trace(a, b, n)
    print(fmt(total), fmt(tr), int(total * 1000.0), int(tr * 1000.0))


main()
