def main():
    total = 0
    checksum = 0
    for i in range(0, 200000):
        s = ""
        for j in range(0, 30):
            s = s + str(i * 31 + j) + ","
        total = total + len(s)
        checksum = (checksum * 31 + ord(s[i % len(s)])) % 1000003
    print(total, checksum)


main()
