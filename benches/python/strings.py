def main():
    checksum = 0
    total_len = 0
    for round in range(0, 600):
        parts = []
        for i in range(0, 1000):
            parts.append(f"item{i}-{round}")
        joined = ",".join(parts)
        pieces = joined.split(",")
        total_len = total_len + len(joined) + len(pieces)
        s = ""
        for j in range(0, 500):
            s = s + str(j % 10) + pieces[j]
        back = "+".join(s.split("-"))
        checksum = (checksum * 31 + len(back) + ord(back[round])) % 1000003
    print(total_len, checksum)


main()
