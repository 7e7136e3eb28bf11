-- binary-trees (Benchmarks Game rules, depth 16): a node is a table with fields
-- left and right, both nil in a leaf.
local function make(d)
    if d == 0 then
        return { left = nil, right = nil }
    end
    return { left = make(d - 1), right = make(d - 1) }
end

local function check(n)
    if n.left == nil then
        return 1
    end
    return 1 + check(n.left) + check(n.right)
end

local function main()
    local min_depth, max_depth = 4, 16
    local stretch = make(max_depth + 1)
    print(string.format("stretch tree of depth %d\t check: %d", max_depth + 1, check(stretch)))
    stretch = nil
    local long_lived = make(max_depth)
    for d = min_depth, max_depth, 2 do
        local iters = math.floor(2 ^ (max_depth - d + min_depth))
        local total = 0
        for _ = 1, iters do
            total = total + check(make(d))
        end
        print(string.format("%d\t trees of depth %d\t check: %d", iters, d, total))
    end
    print(string.format("long lived tree of depth %d\t check: %d", max_depth, check(long_lived)))
end

main()
