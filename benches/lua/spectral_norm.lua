-- Calls and float loops: the spectral norm of the infinite matrix A (Benchmarks Game).
-- Index k of the bp array is index k + 1 of the Lua table; ij * (ij + 1) is even,
-- so the division by 2 is exact in floats too.
local function a(i, j)
    local ij = i + j
    return 1.0 / (ij * (ij + 1) / 2 + i + 1)
end

local function mul_av(v, out, n)
    for i = 0, n - 1 do
        local s = 0.0
        for j = 0, n - 1 do
            s = s + a(i, j) * v[j + 1]
        end
        out[i + 1] = s
    end
end

local function mul_atv(v, out, n)
    for i = 0, n - 1 do
        local s = 0.0
        for j = 0, n - 1 do
            s = s + a(j, i) * v[j + 1]
        end
        out[i + 1] = s
    end
end

local function mul_atav(v, out, tmp, n)
    mul_av(v, tmp, n)
    mul_atv(tmp, out, n)
end

local function main()
    local n = 2500
    local u, v, tmp = {}, {}, {}
    for i = 1, n do
        u[i], v[i], tmp[i] = 1.0, 0.0, 0.0
    end
    for _ = 1, 10 do
        mul_atav(u, v, tmp, n)
        mul_atav(v, u, tmp, n)
    end
    local vbv, vv = 0.0, 0.0
    for i = 1, n do
        vbv = vbv + u[i] * v[i]
        vv = vv + v[i] * v[i]
    end
    local norm = math.sqrt(vbv / vv)
    print(string.format("%g %d", norm, math.floor(norm * 1000000000.0)))
end

main()
