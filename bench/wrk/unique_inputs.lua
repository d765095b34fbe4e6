-- wrk script: POST /bench/predict with a unique doubles input per request, so every query reaches the
-- model (no cache can answer it). Each wrk thread has its own Lua state with the same counter, so the
-- thread's number is part of every input, and so is the start time, so that runs do not repeat each other.
--   wrk -t2 -c32 -d10s -s bench/wrk/unique_inputs.lua --latency http://127.0.0.1:1337
-- against an app "bench" (doubles, 100 ms objective, adaptive batching) linked to one Python noop
-- container (python -m clipper_container.examples.noop).
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
  thread:set("run", os.time())
end

local counter = 0
function request()
  counter = counter + 1
  local body = '{"input": [' .. run .. ', ' .. thread_number .. ', ' .. counter .. ']}'
  return wrk.format("POST", "/bench/predict", {["Content-Type"] = "application/json"}, body)
end
