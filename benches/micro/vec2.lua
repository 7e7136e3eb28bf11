-- Small value structs: 2 M rounds of vector arithmetic on a {x, y} table
-- through helpers that each return a new one (add, scale) and a dot: four
-- tables made per round, two of them only read by the next helper.
local function vec(x, y) return {x = x, y = y} end
local function add(a, b) return vec(a.x + b.x, a.y + b.y) end
local function scale(a, k) return vec(a.x * k, a.y * k) end
local function dot(a, b) return a.x * b.x + a.y * b.y end
local p, v, g, e = vec(0, 0), vec(1, 0.5), vec(0, -0.001), 0
for i = 1, 2000000 do
  v = add(v, scale(g, 0.5))
  p = add(p, scale(v, 0.01))
  e = e + dot(v, v)
end
print(string.format("%g %g %g", p.x, p.y, e))
