-- Float kernel: Mandelbrot set escape-time over a 600x400 grid, up to 200 iterations.
local function main()
    local w, h, max_iter = 600, 400, 200
    local inside, total_iter = 0, 0
    for py = 0, h - 1 do
        local ci = py * 2.0 / h - 1.0
        for px = 0, w - 1 do
            local cr = px * 3.0 / w - 2.0
            local zr, zi = 0.0, 0.0
            local n = 0
            while n < max_iter and zr * zr + zi * zi <= 4.0 do
                local t = zr * zr - zi * zi + cr
                zi = 2.0 * zr * zi + ci
                zr = t
                n = n + 1
            end
            if n == max_iter then
                inside = inside + 1
            end
            total_iter = total_iter + n
        end
    end
    print(string.format("%d %d", inside, total_iter))
end

main()
