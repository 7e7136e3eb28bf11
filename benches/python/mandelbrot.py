def main():
    w = 600
    h = 400
    max_iter = 200
    inside = 0
    total_iter = 0
    for py in range(0, h):
        ci = float(py) * 2.0 / float(h) - 1.0
        for px in range(0, w):
            cr = float(px) * 3.0 / float(w) - 2.0
            zr = 0.0
            zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0:
                t = zr * zr - zi * zi + cr
                zi = 2.0 * zr * zi + ci
                zr = t
                n = n + 1
            if n == max_iter:
                inside = inside + 1
            total_iter = total_iter + n
    print(inside, total_iter)


main()
