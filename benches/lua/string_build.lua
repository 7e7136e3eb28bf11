-- String building: 200 k lines, each built by 30 appends of a number and a comma.
local function main()
    local total, checksum = 0, 0
    for i = 0, 199999 do
        local s = ""
        for j = 0, 29 do
            s = s .. tostring(i * 31 + j) .. ","
        end
        total = total + #s
        checksum = (checksum * 31 + string.byte(s, i % #s + 1)) % 1000003
    end
    print(string.format("%d %d", total, checksum))
end

main()
