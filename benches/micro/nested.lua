-- Maps of maps: 1 M updates of a table of 100 x 50 cells keyed by strings.
local rows, cols = {}, {}
for i = 0, 99 do rows[i] = "r" .. i end
for j = 0, 49 do cols[j] = "c" .. j end
local t, n = {}, 0
local x = 1
for i = 1, 1000000 do
  x = (x * 75 + 74) % 65537
  local r, c = rows[x % 100], cols[x % 50]
  local row = t[r]
  if row == nil then row = {}; t[r] = row; n = n + 1 end
  row[c] = (row[c] or 0) + 1
end
local best = 0
for r, row in pairs(t) do for c, v in pairs(row) do if v > best then best = v end end end
print(string.format("%d %d", n, best))
