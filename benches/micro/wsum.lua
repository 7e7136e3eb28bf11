-- Structs in an array (benches/micro/wsum.bp): the positions of 1,000
-- particles, each scaled by its mass through a helper that returns a new
-- {x, y} table, summed 3,000 times.
local function vec(x, y) return {x = x, y = y} end
local function add(a, b) return vec(a.x + b.x, a.y + b.y) end
local function scale(a, k) return vec(a.x * k, a.y * k) end
local ps = {}
for i = 0, 999 do ps[#ps + 1] = {pos = vec(i, i % 7), m = 1.0 + (i % 3)} end
local total = 0.0
for r = 0, 2999 do
  local acc = vec(0.0, 0.0)
  for _, p in ipairs(ps) do
    acc = add(acc, scale(p.pos, p.m))
  end
  total = total + acc.x + acc.y
end
print(string.format("%g", total))
