-- Integer loop with branches: total Collatz path length of 1..1,000,000.
-- math.floor(n / 2) is integer division in both Lua 5.1 (LuaJIT) and 5.4.
local function main()
    local total, longest, best = 0, 0, 0
    for start = 1, 999999 do
        local n = start
        local steps = 0
        while n ~= 1 do
            if n % 2 == 0 then
                n = math.floor(n / 2)
            else
                n = 3 * n + 1
            end
            steps = steps + 1
        end
        total = total + steps
        if steps > longest then
            longest = steps
            best = start
        end
    end
    print(string.format("%d %d %d", total, longest, best))
end

main()
