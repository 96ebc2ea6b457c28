--- bench/lib.lua - small timing helpers shared by the benchmarks (Lua 5.4 and LuaJIT).
--
--   local lib = require "bench.lib"
--   lib.interp()                 -- "Lua 5.4" or "LuaJIT 2.1.x"
--   lib.interp_cmd()             -- the interpreter this script runs under (arg[<lowest>]), to start workers with
--   lib.median(list)             -- median (mean of the two middle values for an even count); list is not modified
--   lib.cpu_per_op(fn, opts)     -- seconds of CPU (os.clock) per call of fn: the median of opts.batches (5) batches,
--                                --   each sized from a probe to take about opts.target (0.05) s; after a warm-up
--   lib.probe(fn, target)        -- batch size for about `target` CPU seconds (doubling from 1, so also a warm-up)
--   lib.cpu_interleaved(ops, opts) -- ops = { {name, fn}, ... }: the same, but the batches of all ops take turns
--                                --   (op1 op2 ... op1 op2 ...), so a slow spell of a shared machine falls on all of
--                                --   them; returns { [name] = {seconds per call, one per round} } (index = round),
--                                --   for per-round ratios between ops
--   lib.wall()                   -- wall-clock seconds: CLOCK_MONOTONIC through the FFI under LuaJIT; under Lua 5.4
--                                --   (no monotonic clock in the standard library, none in the core) `date +%s.%N`,
--                                --   which costs a process start (~1-2 ms): read it only at the edges of a window
--   lib.wall_source              -- "clock_gettime" or "date"
--   lib.sh_quote(s), lib.read_file(path), lib.sh_capture(cmd)
--
-- CPU figures use os.clock (process CPU time, the figure that counts inside an nginx worker); throughput figures use
-- wall time. Every figure is from the machine the run was on: only ratios from the same run mean something.

local M = {}

local clock = os.clock

function M.interp()
  local jit = rawget(_G, "jit")
  return type(jit) == "table" and jit.version or _VERSION
end

function M.interp_cmd()
  local a = rawget(_G, "arg")
  if type(a) ~= "table" then return "lua5.4" end
  local i = -1
  while a[i - 1] do i = i - 1 end
  return a[i] or "lua5.4"
end

function M.median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) / 2] end
  return (s[n / 2] + s[n / 2 + 1]) / 2
end

function M.sh_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

function M.read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("*a")
  f:close()
  return s
end

function M.sh_capture(cmd)
  local p = assert(io.popen(cmd, "r"))
  local out = p:read("*a")
  p:close()
  return (out:gsub("%s+$", ""))
end

--- Batch size for about `target` CPU seconds per batch of fn (doubling from 1: also the warm-up).
function M.probe(fn, target)
  local n = 1
  while true do
    local t0 = clock()
    for _ = 1, n do fn() end
    local t = clock() - t0
    if t >= target / 2 then
      local per = t / n
      return per > 0 and math.max(1, math.floor(target / per + 0.5)) or n
    end
    n = n * 2
  end
end

--- CPU seconds per call of fn (see the top of the file).
function M.cpu_per_op(fn, opts)
  opts = opts or {}
  local batches, target = opts.batches or 5, opts.target or 0.05
  -- warm-up (LuaJIT compiles hot loops; first-call costs stay out), then a probe sizes the batches
  local size = M.probe(fn, target)
  local samples = {}
  for b = 1, batches do
    local t0 = clock()
    for _ = 1, size do fn() end
    samples[b] = (clock() - t0) / size
  end
  return M.median(samples), size
end

function M.cpu_interleaved(ops, opts)
  opts = opts or {}
  local batches, target = opts.batches or 9, opts.target or 0.02
  local sizes, samples = {}, {}
  for i, op in ipairs(ops) do
    sizes[i] = M.probe(op[2], target) -- warm-up and size
    samples[op[1]] = {}
  end
  for b = 1, batches do
    for i, op in ipairs(ops) do
      local fn, size = op[2], sizes[i]
      local t0 = clock()
      for _ = 1, size do fn() end
      samples[op[1]][b] = (clock() - t0) / size
    end
  end
  return samples, sizes
end

-- ---- wall clock ---------------------------------------------------------------------------------------------------
local wall
do
  local ok_ffi, ffi = pcall(require, "ffi")
  if ok_ffi then
    pcall(ffi.cdef, [[
      typedef struct { long tv_sec; long tv_nsec; } wp_benchlib_timespec;
      int clock_gettime(int clk_id, wp_benchlib_timespec *tp);
    ]])
    local ok_ts, ts = pcall(ffi.new, "wp_benchlib_timespec")
    if ok_ts then
      local C = ffi.C
      wall = function()
        C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
        return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
      end
      M.wall_source = "clock_gettime"
    end
  end
  if not wall then
    wall = function()
      local p = assert(io.popen("date +%s.%N", "r"))
      local v = p:read("*n")
      p:close()
      return assert(v, "date +%s.%N gave no number")
    end
    M.wall_source = "date"
  end
end
M.wall = wall

return M
