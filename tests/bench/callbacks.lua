-- wrk script for figure 4: every request a valid PayHero success callback with an event
-- id of its own ("<BENCH_ID_PREFIX><thread>-<n>"), for the order BENCH_ACCOUNT names.
-- At the end it prints one line: BENCH {json summary}.

local prefix = os.getenv("BENCH_ID_PREFIX")
local account = os.getenv("BENCH_ACCOUNT")
local threads = 0
local sent = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"forward_url": "", "status": true, "response": {"Amount": 1500, "CheckoutRequestID": "%s%d-%d", '
      .. '"ExternalReference": "%s", "MerchantRequestID": "mr-bench", "MpesaReceiptNumber": "SBENCHWRK1", '
      .. '"Phone": "+254710000000", "ResultCode": 0, '
      .. '"ResultDesc": "The service request is processed successfully.", "Status": "Success"}}',
    prefix, id, sent, account)
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout))
end
