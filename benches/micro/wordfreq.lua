-- Word frequencies: str_split, a {str: int} count, map_keys, array_sort.
local function lcg(s)
  local hi, lo = math.floor(s / 65536), s % 65536
  local t = (hi * 20077 + lo * 16838) % 32768
  return (t * 65536 + lo * 20077 + 12345) % 2147483648
end
local words = {"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "cat", "runs", "away", "from", "big", "red", "house"}
local parts, seed = {}, 3
for i = 0, 299999 do
  seed = lcg(seed)
  parts[#parts + 1] = words[math.floor(seed / 65536) % 16 + 1] .. tostring(seed % 50)
end
local text = table.concat(parts, " ")
local counts = {}
for r = 0, 2 do
  for w in string.gmatch(text, "[^ ]+") do
    if counts[w] then counts[w] = counts[w] + 1 else counts[w] = 1 end
  end
end
local keys, n = {}, 0
for k in pairs(counts) do n = n + 1; keys[n] = k end
table.sort(keys)
local best, most = "", 0
for _, k in ipairs(keys) do if counts[k] > most then most = counts[k]; best = k end end
print(string.format("%d %s %d %s %s", n, best, most, keys[1], keys[n]))
