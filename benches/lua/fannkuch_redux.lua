-- Array permutations: fannkuch-redux (Benchmarks Game) for n = 10.
-- Index k of the bp array is index k + 1 of the Lua table.
local function main()
    local n = 10
    local perm1, perm, count = {}, {}, {}
    for i = 1, n do
        perm1[i], perm[i], count[i] = i - 1, 0, 0
    end
    local max_flips, checksum, perm_count, r = 0, 0, 0, n
    while true do
        while r ~= 1 do
            count[r] = r
            r = r - 1
        end
        for i = 1, n do
            perm[i] = perm1[i]
        end
        local flips = 0
        local k = perm[1]
        while k ~= 0 do
            local lo, hi = 1, k + 1
            while lo < hi do
                perm[lo], perm[hi] = perm[hi], perm[lo]
                lo = lo + 1
                hi = hi - 1
            end
            flips = flips + 1
            k = perm[1]
        end
        if flips > max_flips then
            max_flips = flips
        end
        if perm_count % 2 == 0 then
            checksum = checksum + flips
        else
            checksum = checksum - flips
        end
        while true do
            if r == n then
                print(string.format("%d\nPfannkuchen(%d) = %d", checksum, n, max_flips))
                return
            end
            local first = perm1[1]
            for i = 1, r do
                perm1[i] = perm1[i + 1]
            end
            perm1[r + 1] = first
            count[r + 1] = count[r + 1] - 1
            if count[r + 1] > 0 then
                break
            end
            r = r + 1
        end
        perm_count = perm_count + 1
    end
end

main()
