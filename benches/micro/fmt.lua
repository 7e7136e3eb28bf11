-- Formatting: 600 k floats (%g) and ints in f-strings.
local total = 0
for i = 0, 299999 do
  local x = i * 0.37
  local s = string.format("point %d: (%g, %g) ok", i, x, x * 2.0)
  total = total + #s
end
print(string.format("%d", total))
