-- Array kernel: dense 200x200 float matrix product on flat arrays, 3 times.
-- Index k of the bp array is index k + 1 of the Lua table.

-- (s * 1103515245 + 12345) mod 2^31 without a product above 2^53, which LuaJIT's
-- doubles could not hold exactly: the multiplier is split into its high and low
-- 16 bits, and the high part only matters modulo 2^15.
local function lcg(s)
    local hi = (s * 16838) % 32768
    return (hi * 65536 + s * 20077 + 12345) % 2147483648
end

local function make(n, seed)
    local a = {}
    local s = seed
    for i = 1, n * n do
        s = lcg(s)
        a[i] = (s % 1000) / 100.0 - 5.0
    end
    return a
end

local function matmul(a, b, n)
    local c = {}
    for i = 1, n * n do
        c[i] = 0.0
    end
    for i = 0, n - 1 do
        for k = 0, n - 1 do
            local aik = a[i * n + k + 1]
            local row = k * n + 1
            local out = i * n + 1
            for j = 0, n - 1 do
                c[out + j] = c[out + j] + aik * b[row + j]
            end
        end
    end
    return c
end

local function trunc(x)
    if x < 0 then
        return math.ceil(x)
    end
    return math.floor(x)
end

local function c_trace(a, b, n)
    local c = matmul(a, b, n)
    local t = 0.0
    for i = 0, n - 1 do
        t = t + c[i * n + i + 1]
    end
    return t
end

local function main()
    local n = 200
    local a = make(n, 42)
    local b = make(n, 7)
    local sum = 0.0
    for rep = 0, 2 do
        local c = matmul(a, b, n)
        for i = 1, n * n do
            sum = sum + c[i]
        end
        a[rep + 1] = a[rep + 1] + 1.0
    end
    local tr = c_trace(a, b, n)
    print(string.format("%g %g %d %d", sum, tr, trunc(sum * 1000.0), trunc(tr * 1000.0)))
end

main()
