-- wrk script: POST /bench/predict with 784 random doubles per input (an MNIST-sized feature vector),
-- cycling through a pool of bodies made once per thread so that making them costs wrk nothing later.
local pool = {}
function init(args)
  for b = 1, 64 do
    local values = {}
    for i = 1, 784 do values[i] = string.format("%.4f", math.random()) end
    pool[b] = '{"input": [' .. table.concat(values, ",") .. ']}'
  end
end

local counter = 0
function request()
  counter = counter + 1
  return wrk.format("POST", "/bench/predict", {["Content-Type"] = "application/json"}, pool[counter % 64 + 1])
end
