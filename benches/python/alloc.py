import sys

sys.setrecursionlimit(10000)


class Node:
    __slots__ = ("kids",)

    def __init__(self, kids):
        self.kids = kids


def make(d):
    if d == 0:
        return Node([])
    return Node([make(d - 1), make(d - 1)])


def check(n):
    if len(n.kids) == 0:
        return 1
    return 1 + check(n.kids[0]) + check(n.kids[1])


def main():
    max_depth = 14
    stretch = make(max_depth + 1)
    print("stretch", max_depth + 1, check(stretch))
    long_lived = make(max_depth)
    d = 4
    while d <= max_depth:
        iters = 1 << (max_depth - d + 4)
        total = 0
        for i in range(0, iters):
            total = total + check(make(d))
        print(iters, "trees of depth", d, "check", total)
        d = d + 2
    print("long lived", max_depth, check(long_lived))


main()
