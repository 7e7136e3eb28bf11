class Node:
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right


def make(d):
    if d == 0:
        return Node(None, None)
    return Node(make(d - 1), make(d - 1))


def check(n):
    if n.left is None:
        return 1
    return 1 + check(n.left) + check(n.right)


def main():
    min_depth = 4
    max_depth = 16
    stretch = make(max_depth + 1)
    print(f"stretch tree of depth {max_depth + 1}\t check: {check(stretch)}")
    stretch = None
    long_lived = make(max_depth)
    d = min_depth
    while d <= max_depth:
        iters = 1 << (max_depth - d + min_depth)
        total = 0
        for _ in range(0, iters):
            total = total + check(make(d))
        print(f"{iters}\t trees of depth {d}\t check: {total}")
        d = d + 2
    print(f"long lived tree of depth {max_depth}\t check: {check(long_lived)}")


main()
