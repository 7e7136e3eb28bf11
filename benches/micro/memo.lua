-- Memoisation with pair keys (r * 65536 + c, as a Lua program would write it), 300 rounds.
local function paths(memo, r, c)
  if r == 0 or c == 0 then return 1 end
  local key = r * 65536 + c
  local v = memo[key]
  if v then return v end
  v = (paths(memo, r - 1, c) + paths(memo, r, c - 1)) % 1000000007
  memo[key] = v
  return v
end
local total = 0
for round = 0, 299 do
  local memo = {}
  total = (total + paths(memo, 40 + round % 5, 40)) % 1000000007
end
print(string.format("%d", total))
