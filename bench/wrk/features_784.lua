-- wrk script: POST 784 doubles per input (an MNIST-sized feature vector): the wrk thread's number and a
-- counter, so that no two requests share an input (neither the prediction cache nor coalescing answers a
-- query another one computed), then 782 random values from a pool of bodies made once per thread, so that
-- making them costs wrk nothing later. The URL's path picks the format: a path under /v2/ gets the V2
-- inference protocol's FP64 tensor of shape [1, 784] (MLServer, Triton); any other URL gets Clipper's
-- {"input": [...]} at /bench/predict.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local heads = {}
local tails = {}
local path = "/bench/predict"
function init(args)
  local v2 = wrk.path:sub(1, 4) == "/v2/"
  if v2 then path = wrk.path end
  for b = 1, 64 do
    local values = {}
    for i = 1, 782 do values[i] = string.format("%.4f", math.random()) end
    local data = table.concat(values, ",")
    if v2 then
      heads[b] = '{"inputs": [{"name": "x", "shape": [1, 784], "datatype": "FP64", "data": ['
      tails[b] = "," .. data .. "]}]}"
    else
      heads[b] = '{"input": ['
      tails[b] = "," .. data .. "]}"
    end
  end
end

local counter = 0
function request()
  counter = counter + 1
  local b = counter % 64 + 1
  local body = heads[b] .. thread_number .. "," .. counter .. tails[b]
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
