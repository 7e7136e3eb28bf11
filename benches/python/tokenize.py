# Text scanning: a tokenizer over 1.2 MB of generated source text, one character
# at a time (text[i], ord, == on one-character strings), a slice per word,
# keywords found by string comparison. 5 passes, 6 M characters.
def is_word_code(k):
    return (k >= 97 and k <= 122) or (k >= 48 and k <= 57) or k == 95


def main():
    words = ["alpha", "beta", "x1", "count_2", "total", "if", "while", "return"]
    ops = ["+", "-", "*", "(", ")", "=", "==", ",", ":"]
    parts = []
    seed = 7
    for i in range(0, 200000):
        seed = (seed * 1103515245 + 12345) % 2147483648
        r = seed % 10
        if r < 5:
            parts.append(words[seed // 16 % 8])
        elif r < 8:
            parts.append(str(seed % 100000))
        else:
            parts.append(ops[seed // 16 % 9])
        if i % 12 == 11:
            parts.append("\n")
        else:
            parts.append(" ")
    text = "".join(parts)
    n = len(text)
    idents = 0
    keywords = 0
    numbers = 0
    operators = 0
    lines = 0
    checksum = 0
    for round in range(0, 5):
        i = 0
        while i < n:
            c = text[i]
            k = ord(c)
            if (k >= 97 and k <= 122) or c == "_":
                start = i
                while i < n and is_word_code(ord(text[i])):
                    i = i + 1
                word = text[start:i]
                idents = idents + 1
                if word == "if" or word == "while" or word == "return":
                    keywords = keywords + 1
                checksum = (checksum * 31 + len(word)) % 1000003
            elif k >= 48 and k <= 57:
                v = 0
                while i < n and ord(text[i]) >= 48 and ord(text[i]) <= 57:
                    v = v * 10 + ord(text[i]) - 48
                    i = i + 1
                numbers = numbers + 1
                checksum = (checksum + v) % 1000003
            elif c == "\n":
                lines = lines + 1
                i = i + 1
            elif c == " ":
                i = i + 1
            else:
                operators = operators + 1
                if c == "=" and i + 1 < n and text[i + 1] == "=":
                    i = i + 2
                else:
                    i = i + 1
    print(n, idents, keywords, numbers, operators, lines, checksum)


main()
