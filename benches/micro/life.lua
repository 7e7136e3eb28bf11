-- Conway's life on a 128 x 128 [[int]] grid, 60 generations.
local function step(g, n)
  local out = {}
  for y = 0, n - 1 do
    local row = {}
    for x = 0, n - 1 do
      local c = 0
      for dy = -1, 1 do
        for dx = -1, 1 do
          if dx ~= 0 or dy ~= 0 then
            c = c + g[(y + dy + n) % n + 1][(x + dx + n) % n + 1]
          end
        end
      end
      if c == 3 or (c == 2 and g[y + 1][x + 1] == 1) then row[#row + 1] = 1 else row[#row + 1] = 0 end
    end
    out[#out + 1] = row
  end
  return out
end
local n, g, seed = 128, {}, 1
local function lcg(s)
  local hi, lo = math.floor(s / 65536), s % 65536
  local a_hi, a_lo = 16838, 20077
  local t = (hi * a_lo + lo * a_hi) % 32768
  return (t * 65536 + lo * a_lo + 12345) % 2147483648
end
for y = 0, n - 1 do
  local row = {}
  for x = 0, n - 1 do
    seed = lcg(seed)
    row[#row + 1] = math.floor(seed / 65536) % 2
  end
  g[#g + 1] = row
end
for i = 1, 60 do g = step(g, n) end
local alive = 0
for y = 1, n do for x = 1, n do alive = alive + g[y][x] end end
print(string.format("%d", alive))
