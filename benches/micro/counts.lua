-- Counting with a table: 2 M small int keys, then the largest count.
local counts = {}
local x = 1
local n = 0
for i = 0, 1999999 do
  x = (x * 75 + 74) % 65537
  local k = x % 5000
  local c = counts[k]
  if c then counts[k] = c + 1 else counts[k] = 1; n = n + 1 end
end
local best = 0
for k, v in pairs(counts) do if v > best then best = v end end
print(string.format("%d %d", n, best))
