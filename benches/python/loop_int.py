def main():
    total = 0
    for i in range(0, 50000000):
        total = (total + i * 7 + (i ^ (i >> 3))) % 1000000007
    print(total)


main()
