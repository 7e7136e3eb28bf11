-- Higher-order: a closure passed to a function that calls it for 1,000 elements, 3,000 times.
local function apply_all(xs, f)
  local s = 0
  for i = 1, #xs do s = s + f(xs[i]) end
  return s
end
local xs = {}
for i = 0, 999 do xs[#xs + 1] = i end
local total = 0
for r = 0, 2999 do
  local k = r % 7
  total = (total + apply_all(xs, function(x) return x * k + 1 end)) % 1000003
end
print(string.format("%d", total))
