-- Matrix product on tables of rows (120 x 120, 10 times). Index k of a bp array
-- is index k + 1 of the Lua table.

-- (s * 1103515245 + 12345) mod 2^31 without a product above 2^53 (LuaJIT's
-- numbers are doubles): the multiplier split into its high and low 16 bits.
local function lcg(s)
  local hi = (s * 16838) % 32768
  return (hi * 65536 + s * 20077 + 12345) % 2147483648
end

local function make(n, seed)
  local m = {}
  local s = seed
  for i = 1, n do
    local row = {}
    for j = 1, n do
      s = lcg(s)
      row[j] = (s % 1000) / 100.0 - 5.0
    end
    m[i] = row
  end
  return m
end

local function matmul(a, b, n)
  local c = {}
  for i = 1, n do
    local row = {}
    for j = 1, n do row[j] = 0.0 end
    c[i] = row
  end
  for i = 1, n do
    for k = 1, n do
      local aik = a[i][k]
      for j = 1, n do
        c[i][j] = c[i][j] + aik * b[k][j]
      end
    end
  end
  return c
end

local n = 120
local a = make(n, 42)
local b = make(n, 7)
local t = 0.0
for r = 0, 9 do
  local c = matmul(a, b, n)
  t = t + c[r + 1][r + 1] + c[n - r][r + 1]
end
local v = t * 1000.0
print(string.format("%d", v >= 0 and math.floor(v) or math.ceil(v)))
