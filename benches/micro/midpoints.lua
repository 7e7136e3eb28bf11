-- Small structs as values: midpoints of {x, y} tables made and summed, 4 M times.
local function mid(a, b) return {x = (a.x + b.x) * 0.5, y = (a.y + b.y) * 0.5} end
local pts = {}
for i = 0, 999 do pts[i] = {x = i % 37 + 0.0, y = i % 91 + 0.0} end
local acc = 0.0
for r = 1, 4000 do
  for i = 0, 998 do
    local m = mid(pts[i], pts[i + 1])
    acc = acc + m.x - m.y
  end
end
print(string.format("%d", acc >= 0 and math.floor(acc) or math.ceil(acc)))
