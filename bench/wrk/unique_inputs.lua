-- wrk script: POST /bench/predict with a unique doubles input per request, so every query reaches the
-- model (no cache can answer it). Used for the figures in the issue notes:
--   wrk -t2 -c32 -d10s -s bench/wrk/unique_inputs.lua --latency http://127.0.0.1:1337
-- against an app "bench" (doubles, 100 ms objective, adaptive batching) linked to one Python noop
-- container (python -m clipper_container.examples.noop).
counter = 0
request = function()
  counter = counter + 1
  local body = '{"input": [' .. counter .. ', ' .. math.random() .. ', 3.0]}'
  return wrk.format("POST", "/bench/predict", {["Content-Type"] = "application/json"}, body)
end
