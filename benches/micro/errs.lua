-- Runtime errors caught: 3 M guarded steps, of which an index out of range
-- (about one in nine) or a division by zero (one in 17) raises, caught.
local xs = {}
for i = 0, 99 do xs[i + 1] = i end
local function step(i)
  local k = i % 113
  if k >= 100 then error("index out of range") end
  local d = i % 17
  if d == 0 then error("division by zero") end
  return xs[k + 1] + math.floor(1000 / d)
end
local total, errors = 0, 0
for i = 0, 2999999 do
  local ok, v = pcall(step, i)
  if ok then total = total + v else errors = errors + 1 end
end
print(string.format("%d %d", total, errors))
