-- array_sort of 200 k ints and 50 k strings, 5 times.
local function lcg(s)
  local hi, lo = math.floor(s / 65536), s % 65536
  local t = (hi * 20077 + lo * 16838) % 32768
  return (t * 65536 + lo * 20077 + 12345) % 2147483648
end
local seed, check = 42, 0
for r = 0, 4 do
  local a, words = {}, {}
  for i = 0, 199999 do
    seed = lcg(seed)
    a[#a + 1] = seed % 1000000
    if i % 4 == 0 then words[#words + 1] = "w" .. tostring(seed % 50000) end
  end
  table.sort(a)
  table.sort(words)
  check = (check + a[1] + a[100001] + a[200000] + #words[778]) % 1000000007
end
print(string.format("%d", check))
