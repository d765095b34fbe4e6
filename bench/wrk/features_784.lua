-- wrk script: POST 784 random doubles per input (an MNIST-sized feature vector), cycling through a pool of
-- bodies made once per thread so that making them costs wrk nothing later. The URL's path picks the format:
-- a path under /v2/ gets the V2 inference protocol's FP64 tensor of shape [1, 784] (MLServer, Triton); any
-- other URL gets Clipper's {"input": [...]} at /bench/predict.
local pool = {}
local path = "/bench/predict"
function init(args)
  local v2 = wrk.path:sub(1, 4) == "/v2/"
  if v2 then path = wrk.path end
  for b = 1, 64 do
    local values = {}
    for i = 1, 784 do values[i] = string.format("%.4f", math.random()) end
    local data = table.concat(values, ",")
    if v2 then
      pool[b] = '{"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP64", "data": [' .. data .. ']}]}'
    else
      pool[b] = '{"input": [' .. data .. ']}'
    end
  end
end

local counter = 0
function request()
  counter = counter + 1
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, pool[counter % 64 + 1])
end
