-- Small arrays as values: midpoints of {x, y} arrays made and summed, 4 M times.
local function mid(a, b) return {(a[1] + b[1]) * 0.5, (a[2] + b[2]) * 0.5} end
local pts = {}
for i = 0, 999 do pts[i] = {i % 37 + 0.0, i % 91 + 0.0} end
local acc = 0.0
for r = 1, 4000 do
  for i = 0, 998 do
    local m = mid(pts[i], pts[i + 1])
    acc = acc + m[1] - m[2]
  end
end
print(string.format("%d", acc >= 0 and math.floor(acc) or math.ceil(acc)))
