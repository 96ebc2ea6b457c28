--- Media uploads (apiv3-protocol.md §1.5): a two-part multipart/form-data body
-- whose signed BODY is the `meta` JSON exactly as sent in the first part.
--
--     wx.v3.merchant.media.upload:post{ media = { file = "/tmp/a.png" } }
--     wx.v3.merchant.media.upload:post{ media = { content = bytes, filename = "a.png",
--                                                  meta = '{"filename":"a.png","sha256":"…","bank_type":"x"}' } }
-- @module wechatpay.client.multipart

local core = require "wechatpay.core"
local errors = require "wechatpay.errors"
local json = require "wechatpay.codec.json"

local M = {}

local function usage(msg) return nil, errors.new("usage", { message = "media: " .. msg }) end

local TYPES = { png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", bmp = "image/bmp", gif = "image/gif",
  mp4 = "video/mp4", avi = "video/x-msvideo", wmv = "video/x-ms-wmv", mpeg = "video/mpeg", mov = "video/quicktime",
  mkv = "video/x-matroska", flv = "video/x-flv", f4v = "video/x-f4v", m4v = "video/x-m4v",
  rmvb = "application/vnd.rn-realmedia-vbr" }

--- Build the body.
-- @tparam table media `file` (path) or `content` (bytes) with `filename`; optional `meta` (table or JSON string,
-- used verbatim), `content_type`
-- @return `{ body =, content_type =, meta = }` or nil, err
function M.build(media)
  if type(media) ~= "table" then return usage("must be a table") end
  local content, filename = media.content, media.filename
  if media.file ~= nil then
    if type(media.file) ~= "string" then return usage("file must be a path string") end
    local f, ferr = io.open(media.file, "rb")
    if not f then return usage("cannot open " .. media.file .. ": " .. tostring(ferr)) end
    content = f:read("*a")
    f:close()
    filename = filename or media.file:match("([^/]+)$")
  end
  if type(content) ~= "string" then return usage("give file = path or content = bytes") end
  if type(filename) ~= "string" or filename == "" or filename:find('["\r\n]') then
    return usage("filename must be a non-empty string without quotes or line breaks")
  end
  local meta = media.meta
  if meta == nil then
    meta = '{"filename":' .. assert(core.json_quote(filename)) .. ',"sha256":"' .. core.sha256_hex(content) .. '"}'
  elseif type(meta) == "table" then
    local s, err = json.encode(meta)
    if not s then return nil, err end
    meta = s
  elseif type(meta) ~= "string" then
    return usage("meta must be a table or a JSON string")
  end
  local ext = filename:match("%.([%w]+)$")
  local ctype = media.content_type or (ext and TYPES[ext:lower()]) or "application/octet-stream"
  local boundary
  repeat
    boundary = "wechatpay-" .. core.nonce()
  until not content:find(boundary, 1, true) and not meta:find(boundary, 1, true)
  local body = table.concat({
    "--", boundary, "\r\n",
    'Content-Disposition: form-data; name="meta"\r\n',
    "Content-Type: application/json\r\n\r\n",
    meta, "\r\n",
    "--", boundary, "\r\n",
    'Content-Disposition: form-data; name="file"; filename="', filename, '"\r\n',
    "Content-Type: ", ctype, "\r\n\r\n",
    content, "\r\n",
    "--", boundary, "--\r\n",
  })
  return { body = body, content_type = "multipart/form-data; boundary=" .. boundary, meta = meta }
end

return M
