def main():
    n = 200000
    ints = {}
    for i in range(0, n):
        ints[(i * 7919) % 1000003] = i
    hits = 0
    total = 0
    for i in range(0, 2 * n):
        k = (i * 7919) % 1000003
        if k in ints:
            hits = hits + 1
            total = (total + ints[k]) % 1000000007
    for i in range(0, 2000):
        del ints[(i * 7919) % 1000003]
    strs = {}
    for i in range(0, n):
        key = "k" + str(i % 20000)
        if key in strs:
            strs[key] = strs[key] + i
        else:
            strs[key] = i
    ssum = 0
    for r in range(0, 5):
        for i in range(0, 20000):
            ssum = (ssum + strs["k" + str(i)]) % 1000000007
    print(len(ints), hits, total, len(strs), ssum)


main()
