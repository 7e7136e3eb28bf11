def make_adder(k):
    return lambda x: (x + k) % 1000003


def make_scaler(k):
    return lambda x: (x * k) % 1000003


def make_affine(a, b):
    return lambda x: (a * x + b) % 1000003


def main():
    fs = []
    for i in range(0, 100):
        k = i % 13 + 2
        if i % 3 == 0:
            fs.append(make_adder(k))
        elif i % 3 == 1:
            fs.append(make_scaler(k))
        else:
            fs.append(make_affine(k, i))
    acc = 1
    for r in range(0, 600000):
        shift = make_adder(r % 1000)
        for f in fs:
            acc = f(acc)
        acc = shift(acc)
    print(acc)


main()
