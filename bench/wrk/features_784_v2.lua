-- wrk script: the features_784.lua load in the V2 inference protocol (MLServer, Triton):
-- POST /v2/models/logreg/infer with one FP64 tensor of shape [1, 784].
local pool = {}
function init(args)
  for b = 1, 64 do
    local values = {}
    for i = 1, 784 do values[i] = string.format("%.4f", math.random()) end
    pool[b] = '{"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP64", "data": [' .. table.concat(values, ",") .. ']}]}'
  end
end

local counter = 0
function request()
  counter = counter + 1
  return wrk.format("POST", "/v2/models/logreg/infer", {["Content-Type"] = "application/json"}, pool[counter % 64 + 1])
end
