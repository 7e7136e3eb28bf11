-- Method dispatch: a class hierarchy with metatables. Op is the base class
-- (apply(x) = x + 1), Inc inherits it unchanged, Add, Mul and Affine override it.
local Op = {}
Op.__index = Op
function Op.apply(self, x)
    return x + 1
end

local function subclass(base)
    local cls = setmetatable({}, { __index = base })
    cls.__index = cls
    return cls
end

local Inc = subclass(Op)
local Add = subclass(Op)
function Add.apply(self, x)
    return x + self.k
end
local Mul = subclass(Op)
function Mul.apply(self, x)
    return x * self.k
end
local Affine = subclass(Op)
function Affine.apply(self, x)
    return self.a * x + self.b
end

local function make_ops(count)
    local ops = {}
    for i = 0, count - 1 do
        local k = i % 97 + 2
        local kind = (i * i + 3) % 7 % 4
        local op
        if kind == 0 then
            op = setmetatable({}, Inc)
        elseif kind == 1 then
            op = setmetatable({ k = k }, Add)
        elseif kind == 2 then
            op = setmetatable({ k = k }, Mul)
        else
            op = setmetatable({ a = k, b = i }, Affine)
        end
        ops[i + 1] = op
    end
    return ops
end

local function main()
    local ops = make_ops(1000)
    local acc = 1
    for _ = 1, 100000 do
        for i = 1, #ops do
            acc = ops[i]:apply(acc) % 1000003
        end
    end
    print(string.format("%d", acc))
end

main()
