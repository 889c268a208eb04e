-- Full payment cycles at saturation: verify, check_deposit, then a success callback for the
-- payment id that check_deposit returned, signed here (HMAC-SHA512 through LuaJIT's FFI and
-- the system's libcrypto), so every callback credits a real pending deposit.
--
-- K24_CYCLE names a file written by run.py, one item a line, a tag and a space before it:
--   V <verify body>  (several: verifies rotate over customers)
--   D <check_deposit body>  (one a thread: thread n takes line n)
--   C <callback body template, unsigned>  S <its string to sign>  K <secret>
-- The templates hold @PID@ where check_deposit's payment id goes.

local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha512(void);
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len, const unsigned char *d,
                    size_t n, unsigned char *out, unsigned int *out_len);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
]]
local crypto = ffi.load("crypto")
local digest = ffi.new("unsigned char[64]")
local digest_len = ffi.new("unsigned int[1]")
local encoded = ffi.new("unsigned char[96]")

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_number", counter)
  table.insert(threads, thread)
end

local verifies, deposits = {}, {}
local template, to_sign, secret, deposit
local queue, head, tail = {}, 1, 0
local step = 0
applied, other, issued = 0, 0, 0

function init(args)
  for line in io.lines(os.getenv("K24_CYCLE")) do
    local tag, rest = line:sub(1, 1), line:sub(3)
    if tag == "V" then table.insert(verifies, rest)
    elseif tag == "D" then table.insert(deposits, rest)
    elseif tag == "C" then template = rest
    elseif tag == "S" then to_sign = rest
    elseif tag == "K" then secret = rest end
  end
  deposit = deposits[(thread_number - 1) % #deposits + 1]
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local function sign(text)
  crypto.HMAC(crypto.EVP_sha512(), secret, #secret, text, #text, digest, digest_len)
  return ffi.string(encoded, crypto.EVP_EncodeBlock(encoded, digest, 64))
end

local function callback(pid)
  local body = template:gsub("@PID@", pid)
  local signature = sign((to_sign:gsub("@PID@", pid)))
  return wrk.format("POST", "/kassa24/callback", nil, body:sub(1, -2) .. ',"signature":"' .. signature .. '"}')
end

function request()
  if head <= tail then
    local pid = queue[head]
    queue[head] = nil
    head = head + 1
    return callback(pid)
  end
  step = step + 1
  if step % 2 == 1 then
    return wrk.format("POST", "/kassa24", nil, verifies[math.floor(step / 2) % #verifies + 1])
  end
  return wrk.format("POST", "/kassa24", nil, deposit)
end

function response(status, headers, body)
  local pid = body:match('"payment_id":%s*"(k24_[^"]+)"')
  if pid then
    issued = issued + 1
    tail = tail + 1
    queue[tail] = pid
  elseif body:find('"outcome":%s*"applied"') then
    applied = applied + 1
  elseif status ~= 200 or not body:find('"code":%s*0') then
    other = other + 1
  end
end

function done(summary, latency, requests)
  local a, o, i = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("applied")
    o = o + thread:get("other")
    i = i + thread:get("issued")
  end
  io.write(string.format("cycles: issued %d applied %d other %d\n", i, a, o))
end
