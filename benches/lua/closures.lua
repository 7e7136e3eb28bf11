-- Closures in a hot loop: 100 closures of three kinds called in turn, 60 M calls,
-- and a fresh closure capturing the round number made every round.
local function make_adder(k)
    return function(x) return (x + k) % 1000003 end
end

local function make_scaler(k)
    return function(x) return (x * k) % 1000003 end
end

local function make_affine(a, b)
    return function(x) return (a * x + b) % 1000003 end
end

local function main()
    local fs = {}
    for i = 0, 99 do
        local k = i % 13 + 2
        if i % 3 == 0 then
            fs[i + 1] = make_adder(k)
        elseif i % 3 == 1 then
            fs[i + 1] = make_scaler(k)
        else
            fs[i + 1] = make_affine(k, i)
        end
    end
    local acc = 1
    for r = 0, 599999 do
        local shift = make_adder(r % 1000)
        for i = 1, #fs do
            acc = fs[i](acc)
        end
        acc = shift(acc)
    end
    print(string.format("%d", acc))
end

main()
