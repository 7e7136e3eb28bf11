-- Allocation: binary-trees style; many short-lived tables, one long-lived tree.
local function make(d)
    if d == 0 then
        return { kids = {} }
    end
    return { kids = { make(d - 1), make(d - 1) } }
end

local function check(n)
    if #n.kids == 0 then
        return 1
    end
    return 1 + check(n.kids[1]) + check(n.kids[2])
end

local function main()
    local max_depth = 14
    local stretch = make(max_depth + 1)
    print(string.format("stretch %d %d", max_depth + 1, check(stretch)))
    local long_lived = make(max_depth)
    local d = 4
    while d <= max_depth do
        local iters = math.floor(2 ^ (max_depth - d + 4))
        local total = 0
        for _ = 1, iters do
            total = total + check(make(d))
        end
        print(string.format("%d trees of depth %d check %d", iters, d, total))
        d = d + 2
    end
    print(string.format("long lived %d %d", max_depth, check(long_lived)))
end

main()
