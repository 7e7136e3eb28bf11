-- Characters: 4.4 M characters scanned with str_char_at, ord and == against one-byte literals.
local text = string.rep("the quick brown fox jumps over the lazy dog ", 1000)
local vowels, sum = 0, 0
for r = 0, 99 do
  for i = 1, #text do
    local c = string.sub(text, i, i)
    if c == "a" or c == "e" or c == "i" or c == "o" or c == "u" then vowels = vowels + 1 end
    sum = sum + string.byte(c)
  end
end
print(string.format("%d %d", vowels, sum))
