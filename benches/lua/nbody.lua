-- Float kernel: the classic 5-body simulation (Jovian planets), flat arrays.
local SOLAR_MASS = 39.47841760435743
local DAYS_PER_YEAR = 365.24

local function energy(x, y, z, vx, vy, vz, m)
    local e = 0.0
    local n = #m
    for i = 1, n do
        e = e + 0.5 * m[i] * (vx[i] * vx[i] + vy[i] * vy[i] + vz[i] * vz[i])
        for j = i + 1, n do
            local dx = x[i] - x[j]
            local dy = y[i] - y[j]
            local dz = z[i] - z[j]
            e = e - m[i] * m[j] / math.sqrt(dx * dx + dy * dy + dz * dz)
        end
    end
    return e
end

local function advance(x, y, z, vx, vy, vz, m, dt)
    local n = #m
    for i = 1, n do
        for j = i + 1, n do
            local dx = x[i] - x[j]
            local dy = y[i] - y[j]
            local dz = z[i] - z[j]
            local d2 = dx * dx + dy * dy + dz * dz
            local mag = dt / (d2 * math.sqrt(d2))
            local mj = m[j] * mag
            vx[i] = vx[i] - dx * mj
            vy[i] = vy[i] - dy * mj
            vz[i] = vz[i] - dz * mj
            local mi = m[i] * mag
            vx[j] = vx[j] + dx * mi
            vy[j] = vy[j] + dy * mi
            vz[j] = vz[j] + dz * mi
        end
    end
    for k = 1, n do
        x[k] = x[k] + dt * vx[k]
        y[k] = y[k] + dt * vy[k]
        z[k] = z[k] + dt * vz[k]
    end
end

local function trunc(v)
    if v < 0 then
        return math.ceil(v)
    end
    return math.floor(v)
end

local function main()
    local x = { 0.0, 4.84143144246472090e+00, 8.34336671824457987e+00, 1.28943695621391310e+01, 1.53796971148509165e+01 }
    local y = { 0.0, -1.16032004402742839e+00, 4.12479856412430479e+00, -1.51111514016986312e+01, -2.59193146099879641e+01 }
    local z = { 0.0, -1.03622044471123109e-01, -4.03523417114321381e-01, -2.23307578892655734e-01, 1.79258772950371181e-01 }
    local vx = { 0.0, 1.66007664274403694e-03, -2.76742510726862411e-03, 2.96460137564761618e-03, 2.68067772490389322e-03 }
    local vy = { 0.0, 7.69901118419740425e-03, 4.99852801234917238e-03, 2.37847173959480950e-03, 1.62824170038242295e-03 }
    local vz = { 0.0, -6.90460016972063023e-05, 2.30417297573763929e-05, -2.96589568540237556e-05, -9.51592254519715870e-05 }
    local m = { 1.0, 9.54791938424326609e-04, 2.85885980666130812e-04, 4.36624404335156298e-05, 5.15138902046611451e-05 }
    local n = #m
    for i = 1, n do
        vx[i] = vx[i] * DAYS_PER_YEAR
        vy[i] = vy[i] * DAYS_PER_YEAR
        vz[i] = vz[i] * DAYS_PER_YEAR
        m[i] = m[i] * SOLAR_MASS
    end
    local px, py, pz = 0.0, 0.0, 0.0
    for i = 1, n do
        px = px + vx[i] * m[i]
        py = py + vy[i] * m[i]
        pz = pz + vz[i] * m[i]
    end
    vx[1] = 0.0 - px / SOLAR_MASS
    vy[1] = 0.0 - py / SOLAR_MASS
    vz[1] = 0.0 - pz / SOLAR_MASS
    local e0 = energy(x, y, z, vx, vy, vz, m)
    for _ = 1, 500000 do
        advance(x, y, z, vx, vy, vz, m, 0.01)
    end
    local e1 = energy(x, y, z, vx, vy, vz, m)
    print(string.format("%g %g %d", e0, e1, trunc(e1 * 1000000000.0)))
end

main()
