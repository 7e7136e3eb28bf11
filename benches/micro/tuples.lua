-- Tuples: a function returning a pair (divmod), 5 M calls.
local function divmod(a, b) return math.floor(a / b), a % b end
local s = 0
for i = 1, 4999999 do
  local q, r = divmod(i * 7, 13)
  s = (s + q * 3 + r) % 1000003
end
print(string.format("%d", s))
