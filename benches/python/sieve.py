def sieve(n):
    flags = [True] * (n + 1)
    flags[0] = False
    flags[1] = False
    i = 2
    while i * i <= n:
        if flags[i]:
            j = i * i
            while j <= n:
                flags[j] = False
                j = j + i
        i = i + 1
    count = 0
    for k in range(0, n + 1):
        if flags[k]:
            count = count + 1
    return count


def main():
    total = 0
    for r in range(0, 5):
        total = total + sieve(2000000 + r)
    print(total)


main()
