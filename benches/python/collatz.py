# Integer loop with branches: total Collatz path length of 1..1,000,000.
def main():
    total = 0
    longest = 0
    best = 0
    for start in range(1, 1000000):
        n = start
        steps = 0
        while n != 1:
            if n % 2 == 0:
                n = n // 2
            else:
                n = 3 * n + 1
            steps = steps + 1
        total = total + steps
        if steps > longest:
            longest = steps
            best = start
    print(total, longest, best)
    return 0


main()
