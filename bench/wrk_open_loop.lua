-- An open-loop schedule for wrk (bench/wrk.py): request k of the run is due at start + k / rate,
-- whatever the latency of the ones before it, and every request is one of a file of pre-built
-- HTTP/1.1 requests (each its own Idempotency-Key), sent once, in order.
--
-- wrk is closed-loop: a connection sends its next request when its last one is answered. Here a
-- connection that comes free takes the next due time and waits for it (delay()), so the sends
-- keep the schedule as long as a connection is free at each due time. When none is, a request
-- goes out late; how late is measured here (at request(), against the due time it was given)
-- and reported, so that a figure never hides the queueing a closed loop would (bench/wrk.py
-- bounds each quantile of latency-from-due-time with it before it calls a rate sustained).
--
-- Arguments (after wrk's "--"): the requests file (requests separated by NUL), the rate per
-- second, the path of a cheap GET for the probes, wrk's connection count. done() writes its
-- figures to $CASEGOLD_WRK_RESULT.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } casegold_timespec;
int clock_gettime(int clock, casegold_timespec *now);
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]
local CLOCK_MONOTONIC, SIGINT = 1, 2
local clock = ffi.new("casegold_timespec")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local IDLE_MS = 3600000 -- a connection with nothing left to send waits out the run
local START_MS = 500 -- from the first connection's start to the first due time: all are open

-- Per thread (one thread is used: the rate is the thread's).
local requests, count, interval, probe = {}, 0, 0, nil
local first_due = nil -- the due time of request 1, set at the first delay()
local claimed = 0 -- due times handed out by delay()
local sent = 0 -- scheduled requests handed to wrk by request()
-- Calls of delay(): one per connection at its start, then one per answer. A connection that
-- fails and reconnects asks once more without an answer, so after socket errors the run may
-- stop before the last answers: they count as unanswered, never as served.
local asked = 0
local connections = 0
late_max_ms, late_over_1ms, late_over_10ms, sent_total, probes = 0, 0, 0, 0, 0
last_answer_ms = 0 -- the last answer, from the first due time
lateness = {} -- sends by lateness in tenths of a millisecond (bucket k: up to k / 10 ms)

function init(args)
  local path, rate = args[1], tonumber(args[2])
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  local at = 1
  while at <= #data do
    local stop = string.find(data, "\0", at, true) or (#data + 1)
    count = count + 1
    requests[count] = string.sub(data, at, stop - 1)
    at = stop + 1
  end
  interval = 1000 / rate
  probe = wrk.format("GET", args[3])
  connections = tonumber(args[4])
end

function delay()
  asked = asked + 1
  local now = now_ms()
  if first_due == nil then
    first_due = now + START_MS
  end
  last_answer_ms = now - first_due
  if claimed >= count then
    if asked >= connections + probes + count then
      -- Every request answered: wrk's main thread sleeps out the duration unless interrupted,
      -- and its SIGINT handler ends the run as at the duration's end.
      local pid = ffi.C.getpid()
      ffi.C.tgkill(pid, pid, SIGINT)
    end
    return IDLE_MS
  end
  local due = first_due + claimed * interval
  claimed = claimed + 1
  local wait = due - now
  if wait <= 0 then
    return 0
  end
  return math.floor(wait)
end

function request()
  -- wrk asks delay() before every send, so each send has a due time. Two calls have none:
  -- wrk's check of the script before the run (never sent), and, as a guard, a send with no due
  -- time left to it; both get the readiness probe, never a case.
  if first_due == nil then
    return probe -- wrk's check of the script, once, before the run: never sent
  end
  local now = now_ms()
  if sent >= claimed then
    probes = probes + 1
    return probe
  end
  sent = sent + 1
  -- Due times are handed out in order and wrk's timers fire in order, so the k-th request sent
  -- is the one due k-th (up to the order of those due in the same millisecond).
  local late = now - (first_due + (sent - 1) * interval)
  local bucket = late > 0 and math.ceil(late * 10) or 0
  lateness[bucket] = (lateness[bucket] or 0) + 1
  if late > late_max_ms then
    late_max_ms = late
  end
  if late > 1 then
    late_over_1ms = late_over_1ms + 1
  end
  if late > 10 then
    late_over_10ms = late_over_10ms + 1
  end
  sent_total = sent
  return requests[sent]
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, _)
  local out = assert(io.open(os.getenv("CASEGOLD_WRK_RESULT"), "w"))
  local late_max, over_1, over_10, total, probed, last = 0, 0, 0, 0, 0, 0
  local late_buckets = {}
  for _, thread in ipairs(threads) do
    late_max = math.max(late_max, thread:get("late_max_ms"))
    over_1 = over_1 + thread:get("late_over_1ms")
    over_10 = over_10 + thread:get("late_over_10ms")
    total = total + thread:get("sent_total")
    probed = probed + thread:get("probes")
    last = math.max(last, thread:get("last_answer_ms"))
    for bucket, times in pairs(thread:get("lateness")) do
      late_buckets[bucket] = (late_buckets[bucket] or 0) + times
    end
  end
  local errors = summary.errors
  out:write(string.format(
    "summary %d %d %d %d %d %d %d %d %.3f %d %d %d %.3f\n",
    summary.duration, summary.requests, errors.status, errors.timeout, errors.connect,
    errors.read, errors.write, total, late_max, over_1, over_10, probed, last
  ))
  for bucket, times in pairs(late_buckets) do
    out:write(string.format("late %d %d\n", bucket, times))
  end
  for index = 1, #latency do
    local value, times = latency(index)
    out:write(string.format("%d %d\n", value, times))
  end
  out:close()
end
