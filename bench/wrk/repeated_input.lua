-- wrk script: POST /bench/predict with one input, repeated, so after the first answer the prediction
-- cache answers every query (the cache-path scenario).
wrk.method = "POST"
wrk.path = "/bench/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"input": [1.0, 2.0, 3.0]}'
