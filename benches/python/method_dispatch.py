class Op:
    def apply(self, x):
        return x + 1


class Inc(Op):
    pass


class Add(Op):
    def __init__(self, k):
        self.k = k

    def apply(self, x):
        return x + self.k


class Mul(Op):
    def __init__(self, k):
        self.k = k

    def apply(self, x):
        return x * self.k


class Affine(Op):
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def apply(self, x):
        return self.a * x + self.b


def make_ops(count):
    ops = []
    for i in range(0, count):
        k = i % 97 + 2
        kind = (i * i + 3) % 7 % 4
        if kind == 0:
            ops.append(Inc())
        elif kind == 1:
            ops.append(Add(k))
        elif kind == 2:
            ops.append(Mul(k))
        else:
            ops.append(Affine(k, i))
    return ops


def main():
    ops = make_ops(1000)
    acc = 1
    for _ in range(0, 100000):
        for op in ops:
            acc = op.apply(acc) % 1000003
    print(acc)


main()
