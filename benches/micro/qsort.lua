-- A recursive quicksort of 200 k ints, 10 times.
local function qsort(a, lo, hi)
  if lo >= hi then return end
  local p = a[math.floor((lo + hi) / 2)]
  local i, j = lo, hi
  while i <= j do
    while a[i] < p do i = i + 1 end
    while a[j] > p do j = j - 1 end
    if i <= j then a[i], a[j] = a[j], a[i]; i = i + 1; j = j - 1 end
  end
  qsort(a, lo, j); qsort(a, i, hi)
end
-- The LCG step exactly in doubles (LuaJIT): the multiplier split in 16-bit halves.
local function lcg(s)
  local hi, lo = math.floor(s / 65536), s % 65536
  local t = (hi * 20077 + lo * 16838) % 32768
  return (t * 65536 + lo * 20077 + 12345) % 2147483648
end
local seed, check = 42, 0
for r = 0, 9 do
  local a = {}
  for i = 0, 199999 do
    seed = lcg(seed)
    a[i] = seed % 1000000
  end
  qsort(a, 0, 199999)
  check = (check + a[0] + a[100000] + a[199999]) % 1000000007
end
print(string.format("%d", check))
