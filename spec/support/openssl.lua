--- spec/support/openssl.lua - the openssl command line, in a temporary directory, for the specs.
--
--   local openssl = require "spec.support.openssl"
--   local o = openssl.new()            -- in setup(); o:cleanup() in teardown()
--   local k = o:keyset()               -- one 2048-bit key in every form of apiv3-protocol §3 / §9
--   o:sign(k.key_path, msg)            -- base64 of `openssl dgst -sha256 -sign`
--
-- Keys are generated at test time, never committed. Works under Lua 5.4 and LuaJIT
-- (exit statuses are read from the shell, not from io.popen():close()).

local M = {}
M.__index = M

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = shell_quote

--- Run a shell command; returns ok, combined output.
function M.sh(cmd)
  local p = assert(io.popen("( " .. cmd .. " ) 2>&1; echo \"__rc=$?\""))
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  out = out:gsub("__rc=%d+%s*$", "")
  return rc == 0, out
end

--- A new temporary directory.
function M.new()
  local ok, out = M.sh("mktemp -d /tmp/wechatpay-spec.XXXXXX")
  assert(ok, out)
  return setmetatable({ dir = out:gsub("%s+$", ""), n = 0 }, M)
end

function M:cleanup()
  if self.dir and self.dir:match("^/tmp/wechatpay%-spec%.") then M.sh("rm -rf " .. shell_quote(self.dir)) end
  self.dir = nil
end

function M:path(name)
  return self.dir .. "/" .. name
end

-- A fresh file name in the directory.
function M:tmpname(ext)
  self.n = self.n + 1
  return self:path(("t%d%s"):format(self.n, ext or ""))
end

function M:write(path, data)
  if not path:find("/", 1, true) then path = self:path(path) end
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

function M:read(path)
  if not path:find("/", 1, true) then path = self:path(path) end
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

--- Run an openssl (or other) command line in the directory; raises with its output on failure.
function M:run(cmd)
  local ok, out = M.sh("cd " .. shell_quote(self.dir) .. " && " .. cmd)
  if not ok then error("command failed: " .. cmd .. "\n" .. out, 2) end
  return out
end

local function b64_of_file(self, file)
  return (self:run("openssl base64 -A -in " .. shell_quote(file)):gsub("%s+$", ""))
end

--- Every form of one RSA key (default 2048 bits), named `name`.
function M:keyset(name, bits)
  name = name or "rsa"
  bits = bits or 2048
  local k = { pass = "correct horse battery staple" }
  local q = function(suffix) return shell_quote(name .. suffix) end
  self:run(("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:%d -out %s"):format(bits, q(".pem")))
  self:run(("openssl pkey -in %s -pubout -out %s"):format(q(".pem"), q(".pub.pem")))
  self:run(("openssl rsa -in %s -traditional -out %s"):format(q(".pem"), q(".pkcs1.pem")))
  self:run(("openssl pkcs8 -topk8 -v2 aes-256-cbc -in %s -passout pass:%s -out %s")
    :format(q(".pem"), shell_quote(k.pass), q(".enc.pem")))
  self:run(("openssl rsa -pubin -in %s -RSAPublicKey_out -out %s"):format(q(".pub.pem"), q(".pub.pkcs1.pem")))
  self:run(("openssl rsa -in %s -traditional -outform DER -out %s"):format(q(".pem"), q(".pkcs1.der")))
  self:run(("openssl pkcs8 -topk8 -nocrypt -in %s -outform DER -out %s"):format(q(".pem"), q(".pkcs8.der")))
  self:run(("openssl pkey -pubin -in %s -outform DER -out %s"):format(q(".pub.pem"), q(".spki.der")))
  self:run(("openssl rsa -pubin -in %s -RSAPublicKey_out -outform DER -out %s")
    :format(q(".pub.pem"), q(".pub.pkcs1.der")))
  self:run(("openssl req -x509 -new -key %s -days 1 -subj /CN=test -out %s"):format(q(".pem"), q(".crt")))

  k.key_path = self:path(name .. ".pem")
  k.pub_path = self:path(name .. ".pub.pem")
  k.cert_path = self:path(name .. ".crt")
  k.pkcs1_path = self:path(name .. ".pkcs1.pem")
  k.enc_path = self:path(name .. ".enc.pem")
  k.pub_pkcs1_path = self:path(name .. ".pub.pkcs1.pem")
  k.pkcs8_pem = self:read(name .. ".pem")
  k.pkcs1_pem = self:read(name .. ".pkcs1.pem")
  k.enc_pem = self:read(name .. ".enc.pem")
  k.spki_pem = self:read(name .. ".pub.pem")
  k.pub_pkcs1_pem = self:read(name .. ".pub.pkcs1.pem")
  k.cert_pem = self:read(name .. ".crt")
  k.pkcs1_b64 = b64_of_file(self, name .. ".pkcs1.der")
  k.pkcs8_b64 = b64_of_file(self, name .. ".pkcs8.der")
  k.spki_b64 = b64_of_file(self, name .. ".spki.der")
  k.pub_pkcs1_b64 = b64_of_file(self, name .. ".pub.pkcs1.der")
  k.cert_serial = self:cert_serial(k.cert_path)
  return k
end

--- `openssl x509 -serial` of a certificate file, e.g. "3775B6A45ACD5888".
function M:cert_serial(cert_path)
  local out = self:run("openssl x509 -noout -serial -in " .. shell_quote(cert_path))
  return (assert(out:match("serial=(%x+)"), out))
end

--- A self-signed certificate for key_path with a chosen serial (hex without 0x).
function M:cert_with_serial(key_path, serial_hex)
  local out = self:tmpname(".crt")
  self:run(("openssl req -x509 -new -key %s -days 1 -subj /CN=serial -set_serial 0x%s -out %s")
    :format(shell_quote(key_path), serial_hex, shell_quote(out)))
  return self:read(out), out
end

--- A P-256 EC key: { pem = PKCS#8, sec1 = "EC PRIVATE KEY", pub = SPKI, cert = certificate }.
function M:ec_key()
  local base = self:tmpname("")
  local qb = function(s) return shell_quote(base .. s) end
  self:run(("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s"):format(qb(".pem")))
  self:run(("openssl ec -in %s -out %s"):format(qb(".pem"), qb(".sec1.pem")))
  self:run(("openssl pkey -in %s -pubout -out %s"):format(qb(".pem"), qb(".pub.pem")))
  self:run(("openssl req -x509 -new -key %s -days 1 -subj /CN=ec -out %s"):format(qb(".pem"), qb(".crt")))
  return {
    pem = self:read(base .. ".pem"), sec1 = self:read(base .. ".sec1.pem"),
    pub = self:read(base .. ".pub.pem"), cert = self:read(base .. ".crt"),
  }
end

--- base64 of `openssl dgst -sha256 -sign key_path` over msg.
function M:sign(key_path, msg)
  local mf = self:write(self:tmpname(".msg"), msg)
  local sf = self:tmpname(".sig")
  self:run(("openssl dgst -sha256 -sign %s -out %s %s"):format(shell_quote(key_path), shell_quote(sf), shell_quote(mf)))
  return b64_of_file(self, sf)
end

--- `openssl dgst -sha256 -verify` of a base64 signature; true when openssl says "Verified OK".
function M:verify(pub_path, msg, sig_b64)
  local mf = self:write(self:tmpname(".msg"), msg)
  local bf = self:write(self:tmpname(".b64"), sig_b64 .. "\n")
  local sf = self:tmpname(".sig")
  self:run(("openssl base64 -d -A -in %s -out %s"):format(shell_quote(bf), shell_quote(sf)))
  local ok, out = M.sh(("openssl dgst -sha256 -verify %s -signature %s %s")
    :format(shell_quote(pub_path), shell_quote(sf), shell_quote(mf)))
  return ok and out:find("Verified OK", 1, true) ~= nil, out
end

--- RSA-OAEP (SHA-1, MGF1-SHA-1) with `openssl pkeyutl`; base64 in and out.
function M:oaep_encrypt(pub_path, plaintext)
  local pf = self:write(self:tmpname(".pt"), plaintext)
  local cf = self:tmpname(".ct")
  self:run(("openssl pkeyutl -encrypt -pubin -inkey %s -pkeyopt rsa_padding_mode:oaep -in %s -out %s")
    :format(shell_quote(pub_path), shell_quote(pf), shell_quote(cf)))
  return b64_of_file(self, cf)
end

function M:oaep_decrypt(key_path, ct_b64)
  local bf = self:write(self:tmpname(".b64"), ct_b64 .. "\n")
  local cf, pf = self:tmpname(".ct"), self:tmpname(".pt")
  self:run(("openssl base64 -d -A -in %s -out %s"):format(shell_quote(bf), shell_quote(cf)))
  self:run(("openssl pkeyutl -decrypt -inkey %s -pkeyopt rsa_padding_mode:oaep -in %s -out %s")
    :format(shell_quote(key_path), shell_quote(cf), shell_quote(pf)))
  return self:read(pf)
end

--- `openssl dgst -sha256` / `-sha1` of data, lower-case hex.
function M:digest(alg, data)
  local f = self:write(self:tmpname(".dat"), data)
  local out = self:run(("openssl dgst -%s -r %s"):format(alg, shell_quote(f)))
  return (assert(out:match("^(%x+)"), out))
end

--- `openssl base64 -A` of data (one line).
function M:base64(data)
  return b64_of_file(self, self:write(self:tmpname(".dat"), data))
end

return M
