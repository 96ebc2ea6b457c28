--- The PayScore (微信支付分) merchant API as data: one source of truth for the client's pre-flight validation
-- (`wechatpay.payscore.validate`) and for the local sandbox, which validates with the same tables and adds only the
-- rules that need server state or a clock. Contract: `../shared/spec/payscore.md` (§ numbers below refer to it).
-- Where the sources conflict, the value is payscore.md's suggested default (§10/§11) and a `conflict` note says so.
--
-- This file holds plain Lua tables only (no functions, no code): every check lives in validate.lua.
--
-- ## Shapes
--
-- `schema.endpoints[i]` (E1..E15 of §0, in that order; also indexed by id: `schema.by_id.E3`):
--
--     { id = "E3", name = "cancel", title = "...", method = "POST",
--       path = "/v3/payscore/serviceorder/{out_order_no}/cancel",   -- canonical template
--       aliases = { ... },                                          -- other accepted templates (§11: with/without /v3)
--       mode = "both" | "confirm" | "no-confirm" | "legacy",         -- 需确认 / 免确认 / legacy 普通授权 (§0)
--       success = 200 | 204,
--       call = "wx.v3....:post{ ... }",                              -- the Lua call in the client's chain style
--       params = { <field>... },                                     -- path parameters (strings)
--       query  = { <field>... },                                     -- query parameters (strings)
--       body   = { <field>... } | nil,                               -- JSON body fields (nil: no body, GET)
--       rules  = { <rule>... },                                      -- cross-field rules over the body (or `location`)
--       response = { status = 200, fields = { <field>... } } | { status = 204 } }
--
-- A <field> is `{ name = "...", type = T, required = R, ... }` where
--
--   * `type`: "string" | "integer" | "boolean" | "object" | "array".
--   * `required`: `true`, `false`/nil, or the id (a string) of the cross-field rule that makes it conditional; that
--     rule is listed in the same scope's `rules` and does the check.
--   * strings: `max` = maximum length in characters (UTF-8 code points: a Chinese character counts 1, §1.3),
--     `min_len` (a required string implies `min_len = 1`), `enum = { ... }`, `formats = { ... }` (names of
--     `schema.formats`; the value must match one of them), `charset` (name of `schema.charsets`).
--     Every string must be valid UTF-8 with 1-3-byte sequences only (§1.1).
--   * integers: `min`, `max` (values, inclusive); `unit = "fen"` for money (§1.3: integer fen, never a float).
--   * objects: `object = "<name in schema.types>"`.
--   * arrays: `items = "<name in schema.types>"` (objects), `min_items`, `max_items`.
--   * `default` (documentation), `conflict` (the CONFLICT resolved, §11), `note` (anything else), `text` (meaning).
--
-- A <rule> is `{ id = "...", kind = K, text = "...", ... }`; kinds (all need no server state):
--
--   * `required_if`  { field, when = { field, equals = v | gt = n | present = true, default = v } }: `field` must
--                    be present when the condition holds (`default` is the value of an absent `when.field`).
--   * `exactly_one`  { fields = { a, b } }: exactly one of them present.
--   * `requires`     { field, needs }: `field` only together with `needs`.
--   * `together`     { fields = { a, b } }: both or neither.
--   * `at_least_one` { when_present, fields = { ... } }: if `when_present` is there, at least one of `fields` too.
--   * `sum`          { field, add = { array, member }, sub = { array, member } }: field == Σadd − Σsub, a missing
--                    member counting 0.
--   * `unique`       { array, member, except = { ... } }: members unique over the array's elements.
--   * `time_order`   { start, finish }: where both are times of the same precision: second precision ⇒ finish >
--                    start; day precision ⇒ finish ≥ start (§2.3). `OnAccept` and mixed precisions are left alone.
--   * optional on any rule: `each = "<array field>"` (apply the rule to every element of that array),
--     `location = "query"` (the rule is over the query parameters instead of the body),
--     `api_message` (the message the real API answers with, for the sandbox's PARAM_ERROR).
--
-- Type-level rules (`schema.types.X.rules`) apply to every object of that type.
--
-- Rules that need server state or a clock are NOT here (they are the sandbox's): see `schema.server_rules`.

local schema = {}

schema.version = "payscore.md 2025 (E1-E15)"

-- Value formats (checked by validate.lua; names used in `formats = { ... }`).
schema.formats = {
  time14 = { text = "yyyyMMddHHmmss", note = "§1.3: PayScore business times; a real calendar time is required" },
  time8 = { text = "yyyyMMdd", note = "§1.3: day precision (means 00:00:00)" },
  OnAccept = { text = "OnAccept", literal = "OnAccept",
    note = "§2.3: start_time of create (E1) only: the time the user confirms" },
  rfc3339 = { text = "RFC 3339 (2015-05-20T13:29:35+08:00)", note = "§1.3: APIv3 generic times (answers only)" },
  -- §3.1: "HTTPS, publicly reachable, no query string". http:// is also accepted for a loopback host
  -- (127.0.0.1, localhost, [::1]) so that the local sandbox can deliver notifications to a plain-HTTP test handler;
  -- the real API would refuse such a URL anyway (it cannot reach it).
  notify_url = { text = "an https:// URL without a query string" },
}

-- Character sets (Lua patterns anchored on the whole value; `text` is the readable form).
schema.charsets = {
  -- §3.1, §6.6: digits, letters and _ - | *. CONFLICT: the new merchant create page lists `_-|` without `*`; every
  -- other page includes `*` -> `*` allowed (§11). No other character (`@` is not documented for these numbers).
  order_no = { pattern = "^[0-9A-Za-z_|*%-]+$", text = "digits, letters and _ - | *" },
}

-- Value sets.
schema.enums = {
  risk_fund_name = { "DEPOSIT", "ADVANCE", "CASH_DEPOSIT", "ESTIMATE_ORDER_COST" }, -- §2.5 (not the typo UDEPOSIT)
  state = { "CREATED", "DOING", "DONE", "REVOKED", "EXPIRED" },                      -- §5.1
  state_description = { "USER_CONFIRM", "MCH_COMPLETE" },                            -- §5.1
  collection_state = { "USER_PAYING", "USER_PAID" },                                 -- §2.7
  paid_type = { "NEWTON", "MCH" },                                                   -- §2.7
  authorization_state = { "UNAVAILABLE", "AVAILABLE", "UNBINDUSER" },                -- §3.10
  use_service_state = { "UNAVAILABLE", "AVAILABLE" },                                -- §3.14
  sync_type = { "Order_Paid" },                                                      -- §3.7
}

local E = schema.enums

-- Shared field definitions (plain tables; validate.lua never modifies them).
local APPID = { name = "appid", type = "string", required = true, max = 32,
  text = "bound to mchid and configured on the service_id; the same appid for create/complete/cancel (§1.3)" }
local SERVICE_ID = { name = "service_id", type = "string", required = true, max = 32,
  text = "opaque, at most 32 characters (§1.3)" }
local OUT_ORDER_NO = { name = "out_order_no", type = "string", required = true, max = 32, charset = "order_no",
  text = "merchant order number, unique per mchid (§3.1)" }
local REASON = { name = "reason", type = "string", required = true, max = 50,
  conflict = "§11: 50 (current docs) vs 30 (old wiki, SDK comments) -> 50" }
local NOTIFY_URL = { name = "notify_url", type = "string", required = true, max = 255, formats = { "notify_url" },
  note = "§3.1: marked required by the new doc ([S10]'s merchant-platform default is UNCERTAIN)" }
local ATTACH = { name = "attach", type = "string", max = 256, text = "urlencode first; echoed in notifications (§3.1)" }
local TOTAL_AMOUNT = { name = "total_amount", type = "integer", required = true, min = 0, unit = "fen",
  text = "= Σpost_payments[].amount − Σpost_discounts[].amount (§6.2; `count` is not multiplied)" }
local GOODS_TAG = { name = "goods_tag", type = "string", max = 32 }
local PROFIT_SHARING = { name = "profit_sharing", type = "boolean", default = false }
local DEVICE = { name = "device", type = "object", object = "Device" }
local OPENID_PARAM = { name = "openid", type = "string", required = true, max = 128 }
local AUTH_CODE = { name = "authorization_code", type = "string", required = true, max = 32, charset = "order_no",
  conflict = "§3.9: charset `_ - | *` (old wiki `_-*`) -> the order-number charset" }

-- Object types (§2), by name.
schema.types = {
  -- §2.1 后付费项目
  Payment = {
    fields = {
      { name = "name", type = "string", required = true, max = 20,
        note = "§2.1: required by the merchant create/modify docs and the openapi yaml (partner docs: optional)" },
      { name = "amount", type = "integer", required = "payment_amount_or_description", min = 0, unit = "fen",
        text = "this item's total in fen (not multiplied by count); a missing amount counts as 0" },
      { name = "description", type = "string", required = "payment_amount_or_description", max = 30 },
      { name = "count", type = "integer", min = 1, max = 100, default = 1 },
    },
    rules = {
      { id = "payment_amount_or_description", kind = "at_least_one", when_present = "name",
        fields = { "amount", "description" },
        text = "§2.1: if name is given, at least one of amount and description must be given" },
    },
  },
  -- §2.2 商户优惠
  ServiceOrderCoupon = {
    fields = {
      { name = "name", type = "string", required = "discount_name_with_description", max = 20 },
      { name = "description", type = "string", required = "discount_name_with_description", max = 30 },
      { name = "amount", type = "integer", min = 0, unit = "fen",
        note = "required when name is given on complete/modify/direct-complete (rule discount_amount_with_name of " ..
          "those endpoints); optional on create (the official create example sends none)" },
      { name = "count", type = "integer", min = 1, max = 100, default = 1 },
    },
    rules = {
      { id = "discount_name_with_description", kind = "together", fields = { "name", "description" },
        text = "§2.2: if either name or description is filled, both must be" },
    },
  },
  -- §2.3 服务时间段, as sent to create (E1)
  TimeRange = {
    fields = {
      { name = "start_time", type = "string", required = true, formats = { "time14", "time8", "OnAccept" },
        text = "clock rules (start ≥ now) are the server's" },
      { name = "start_time_remark", type = "string", max = 20 },
      { name = "end_time", type = "string", formats = { "time14", "time8" } },
      { name = "end_time_remark", type = "string", max = 20,
        conflict = "§2.3/§11: 20 (all docs) vs 50 (openapi definitions) -> 20" },
    },
    rules = {
      { id = "start_time_remark_needs_start_time", kind = "requires", field = "start_time_remark", needs = "start_time",
        text = "§2.3: start_time_remark only if start_time is given" },
      { id = "end_time_remark_needs_end_time", kind = "requires", field = "end_time_remark", needs = "end_time",
        text = "§2.3: end_time_remark only if end_time is given" },
      { id = "end_time_after_start_time", kind = "time_order", start = "start_time", finish = "end_time",
        text = "§2.3: second precision: end_time > start_time; day precision: end_time ≥ start_time" },
    },
  },
  -- §2.3, as sent to complete (E5): the actual service time; both times optional here (end_time is required when
  -- create had none: a server-state rule), no OnAccept.
  TimeRangeComplete = {
    fields = {
      { name = "start_time", type = "string", formats = { "time14", "time8" } },
      { name = "start_time_remark", type = "string", max = 20 },
      { name = "end_time", type = "string", formats = { "time14", "time8" },
        note = "required if create gave none; complete-call time ≥ end_time (server rules)" },
      { name = "end_time_remark", type = "string", max = 20, conflict = "§11: 20 vs 50 -> 20" },
    },
    rules = {
      { id = "start_time_remark_needs_start_time", kind = "requires", field = "start_time_remark", needs = "start_time",
        text = "§2.3: start_time_remark only if start_time is given" },
      { id = "end_time_remark_needs_end_time", kind = "requires", field = "end_time_remark", needs = "end_time",
        text = "§2.3: end_time_remark only if end_time is given" },
      { id = "end_time_after_start_time", kind = "time_order", start = "start_time", finish = "end_time",
        text = "§2.3/§3.5: end_time > start_time (≥ at day precision)" },
    },
  },
  -- §2.3, as sent to direct-complete (E8): start_time required, no OnAccept.
  TimeRangeDirect = {
    fields = {
      { name = "start_time", type = "string", required = true, formats = { "time14", "time8" } },
      { name = "start_time_remark", type = "string", max = 20 },
      { name = "end_time", type = "string", formats = { "time14", "time8" },
        note = "§3.8 gives no Req for end_time; end_time ≤ call time is a server rule" },
      { name = "end_time_remark", type = "string", max = 20, conflict = "§11: 20 vs 50 -> 20" },
    },
    rules = {
      { id = "start_time_remark_needs_start_time", kind = "requires", field = "start_time_remark", needs = "start_time",
        text = "§2.3: start_time_remark only if start_time is given" },
      { id = "end_time_remark_needs_end_time", kind = "requires", field = "end_time_remark", needs = "end_time",
        text = "§2.3: end_time_remark only if end_time is given" },
      { id = "end_time_after_start_time", kind = "time_order", start = "start_time", finish = "end_time",
        text = "§3.8: end_time > start_time (≥ at day precision)" },
    },
  },
  -- §2.4 服务位置 (create, direct-complete)
  Location = {
    fields = {
      { name = "start_location", type = "string", max = 50,
        conflict = "§2.4: 50 (API docs) vs 20 (notification docs) -> 50" },
      { name = "end_location", type = "string", max = 50, required = false,
        conflict = "§2.4: 50 vs 20 -> 50" },
    },
    rules = {
      { id = "end_location_needs_start_location", kind = "requires", field = "end_location", needs = "start_location",
        text = "§2.4: end_location only if start_location is given" },
    },
  },
  -- §2.4, as sent to complete (E5): only end_location is documented (that create had a start_location is a
  -- server-state rule).
  LocationComplete = {
    fields = {
      { name = "end_location", type = "string", max = 50, conflict = "§2.4: 50 vs 20 -> 50" },
    },
  },
  -- §2.5 服务风险金
  RiskFund = {
    fields = {
      { name = "name", type = "string", required = true, enum = E.risk_fund_name,
        text = "DEPOSIT/ADVANCE/CASH_DEPOSIT (先免) or ESTIMATE_ORDER_COST (先享); fixed per service_id (server rule)" },
      { name = "amount", type = "integer", required = true, min = 1, unit = "fen",
        text = "> 0; ≤ the service's risk cap (server rule)" },
      { name = "description", type = "string", max = 30 },
    },
  },
  -- §2.6 设备信息. Lengths are not documented (UNCERTAIN): none enforced.
  Device = {
    fields = {
      { name = "start_device_id", type = "string" },
      { name = "end_device_id", type = "string" },
      { name = "materiel_no", type = "string" },
    },
  },
  -- §3.7 sync detail
  SyncDetail = {
    fields = {
      { name = "paid_time", type = "string", required = true, formats = { "time14", "time8" },
        conflict = "§11: yyyyMMdd means 00:00:00 (new docs) vs 23:59:59 (old wiki) -> 00:00:00",
        note = "start < complete-call time < paid_time ≤ sync-call time (server rules)" },
    },
  },

  -- Answer-only types (§2.7, §2.8).
  Collection = {
    fields = {
      { name = "state", type = "string", enum = E.collection_state },
      { name = "total_amount", type = "integer", unit = "fen" },
      { name = "paying_amount", type = "integer", unit = "fen" },
      { name = "paid_amount", type = "integer", unit = "fen" },
      { name = "details", type = "array", items = "CollectionDetail" },
      { name = "bank_type", type = "string", note = "only in the openapi yaml (UNCERTAIN, §11)" },
    },
  },
  CollectionDetail = {
    fields = {
      { name = "seq", type = "integer" },
      { name = "amount", type = "integer", unit = "fen" },
      { name = "paid_type", type = "string", enum = E.paid_type },
      { name = "paid_time", type = "string", formats = { "time14" } },
      { name = "transaction_id", type = "string" },
      { name = "promotion_detail", type = "array", items = "PromotionDetail" },
    },
  },
  PromotionDetail = {
    fields = {
      { name = "coupon_id", type = "string", max = 32 },
      { name = "name", type = "string", max = 64 },
      { name = "scope", type = "string", enum = { "GLOBAL", "SINGLE" } },
      { name = "type", type = "string", enum = { "CASH", "NOCASH" } },
      { name = "amount", type = "integer", unit = "fen" },
      { name = "stock_id", type = "string", max = 32 },
      { name = "wechatpay_contribute", type = "integer", unit = "fen" },
      { name = "merchant_contribute", type = "integer", unit = "fen" },
      { name = "other_contribute", type = "integer", unit = "fen" },
      { name = "currency", type = "string", enum = { "CNY" } },
      { name = "goods_detail", type = "array", items = "GoodsDetail" },
    },
  },
  GoodsDetail = {
    fields = {
      { name = "goods_id", type = "string", max = 32 },
      { name = "quantity", type = "integer" },
      { name = "unit_price", type = "integer", unit = "fen" },
      { name = "discount_amount", type = "integer", unit = "fen" },
      { name = "goods_remark", type = "string", max = 128 },
    },
  },
}

-- §2.8 ServiceOrderEntity: the answer of query (E2), modify (E4), sync (E7); also the decrypted USER_CONFIRM and
-- USER_PAID notifications. `post_payments` is an array (the generated Go sample's single object is a bug, §11).
local SERVICE_ORDER_ENTITY = {
  { name = "out_order_no", type = "string", required = true },
  { name = "service_id", type = "string", required = true },
  { name = "appid", type = "string", required = true },
  { name = "mchid", type = "string", required = true },
  { name = "service_introduction", type = "string" },
  { name = "state", type = "string", required = true, enum = E.state },
  { name = "state_description", type = "string", enum = E.state_description, note = "only while state = DOING" },
  { name = "post_payments", type = "array", items = "Payment" },
  { name = "post_discounts", type = "array", items = "ServiceOrderCoupon" },
  { name = "risk_fund", type = "object", object = "RiskFund" },
  { name = "total_amount", type = "integer", unit = "fen" },
  { name = "need_collection", type = "boolean", note = "after a non-zero completion" },
  { name = "collection", type = "object", object = "Collection", note = "after a non-zero completion" },
  { name = "time_range", type = "object", object = "TimeRange" },
  { name = "location", type = "object", object = "Location" },
  { name = "attach", type = "string" },
  { name = "notify_url", type = "string" },
  { name = "openid", type = "string", note = "once bound to a user" },
  { name = "order_id", type = "string" },
}
schema.service_order_entity = SERVICE_ORDER_ENTITY

-- §3.10 / §3.12 authorization record
local AUTHORIZATION_RECORD = {
  { name = "service_id", type = "string", required = true },
  { name = "appid", type = "string" },
  { name = "mchid", type = "string" },
  { name = "openid", type = "string", note = "absent until a user is bound" },
  { name = "authorization_code", type = "string" },
  { name = "authorization_state", type = "string", enum = E.authorization_state },
  { name = "notify_url", type = "string" },
  { name = "cancel_authorization_time", type = "string", formats = { "rfc3339" } },
  { name = "authorization_success_time", type = "string", formats = { "rfc3339" } },
  { name = "user_risk_level", type = "integer", note = "only in the openapi yaml / WxJava (UNCERTAIN, §11)" },
  { name = "risk_level_version", type = "integer", note = "only in the openapi yaml / WxJava (UNCERTAIN, §11)" },
}

-- Body-level rules shared by several endpoints.
local UNIQUE_PAYMENT_NAMES = { id = "unique_payment_names", kind = "unique", array = "post_payments", member = "name",
  except = { "商品信息" }, text = "§2.1/§6.12: payment names are unique within an order, except 商品信息" }
local UNIQUE_DISCOUNT_NAMES = { id = "unique_discount_names", kind = "unique", array = "post_discounts",
  member = "name", text = "§2.2/§6.12: discount names are unique within an order" }
local TOTAL_AMOUNT_SUM = { id = "total_amount_sum", kind = "sum", field = "total_amount",
  add = { "post_payments", "amount" }, sub = { "post_discounts", "amount" }, api_message = "最终总金额计算非法",
  text = "§6.2: total_amount = Σpost_payments[].amount − Σpost_discounts[].amount (a missing amount counts 0; " ..
    "`count` is not multiplied: amount is the item's total, e.g. 40000 for 4 × ¥100)" }
local DISCOUNT_AMOUNT_WITH_NAME = { id = "discount_amount_with_name", kind = "required_if", each = "post_discounts",
  field = "amount", when = { field = "name", present = true },
  text = "§2.2: a discount's amount is required at complete/modify/direct-complete when its name is given" }

-- The merchant endpoints E1-E15 (§0, §3).
schema.endpoints = {
  {
    id = "E1", name = "create", title = "创建支付分订单 Create service order (§3.1)",
    method = "POST", path = "/v3/payscore/serviceorder", aliases = {}, mode = "both", success = 200,
    call = "wx.v3.payscore.serviceorder:post{ json = {...} }",
    params = {},
    query = {},
    body = {
      OUT_ORDER_NO, APPID, SERVICE_ID,
      { name = "service_introduction", type = "string", required = true, max = 20 },
      { name = "post_payments", type = "array", items = "Payment", max_items = 100 },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon", max_items = 30 },
      { name = "time_range", type = "object", object = "TimeRange", required = true },
      { name = "location", type = "object", object = "Location" },
      { name = "risk_fund", type = "object", object = "RiskFund", required = true },
      ATTACH,
      NOTIFY_URL,
      { name = "openid", type = "string", required = "openid_required_without_confirm", max = 128, min_len = 1,
        note = "§3.1 says 需确认 (need_user_confirm = true) must not send openid, but the official example sends " ..
          "openid together with need_user_confirm = true: that combination is accepted" },
      { name = "need_user_confirm", type = "boolean", default = true,
        conflict = "old gitbook marks it required (minor CONFLICT) -> optional, default true" },
      DEVICE,
    },
    rules = {
      { id = "openid_required_without_confirm", kind = "required_if", field = "openid",
        when = { field = "need_user_confirm", equals = false, default = true },
        text = "§3.1/§6.9: openid is required when need_user_confirm is false (免确认)" },
      UNIQUE_PAYMENT_NAMES, UNIQUE_DISCOUNT_NAMES,
    },
    response = { status = 200, fields = {
      { name = "appid", type = "string", required = true },
      { name = "mchid", type = "string", required = true },
      { name = "out_order_no", type = "string", required = true },
      { name = "service_id", type = "string", required = true },
      { name = "service_introduction", type = "string" },
      { name = "state", type = "string", required = true, enum = E.state,
        note = "CREATED (need_user_confirm = true) or DOING/USER_CONFIRM (false)" },
      { name = "state_description", type = "string", enum = E.state_description },
      { name = "post_payments", type = "array", items = "Payment" },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon" },
      { name = "risk_fund", type = "object", object = "RiskFund" },
      { name = "time_range", type = "object", object = "TimeRange" },
      { name = "location", type = "object", object = "Location" },
      { name = "attach", type = "string" },
      { name = "notify_url", type = "string" },
      { name = "order_id", type = "string", required = true, max = 64 },
      { name = "package", type = "string", max = 300, note = "需确认 mode only: confirm-page token, 1 h, single use" },
    } },
  },
  {
    id = "E2", name = "query", title = "查询支付分订单 Query service order (§3.2)",
    method = "GET", path = "/v3/payscore/serviceorder", aliases = {}, mode = "both", success = 200,
    call = "wx.v3.payscore.serviceorder:get{ query = {...} }",
    params = {},
    query = {
      { name = "out_order_no", type = "string", required = "out_order_no_xor_query_id", max = 32,
        charset = "order_no" },
      { name = "query_id", type = "string", required = "out_order_no_xor_query_id", max = 512,
        conflict = "§11: 512 (new) vs 64 (old wiki, mini-program return) -> 512" },
      SERVICE_ID, APPID,
    },
    body = nil,
    rules = {
      { id = "out_order_no_xor_query_id", kind = "exactly_one", location = "query",
        fields = { "out_order_no", "query_id" },
        text = "§3.2/§6.8: exactly one of out_order_no and query_id (an empty value counts as not given, as the " ..
          "official example sends query_id=\"\")" },
    },
    response = { status = 200, fields = SERVICE_ORDER_ENTITY },
  },
  {
    id = "E3", name = "cancel", title = "取消支付分订单 Cancel (§3.3)",
    method = "POST", path = "/v3/payscore/serviceorder/{out_order_no}/cancel", aliases = {}, mode = "both",
    success = 200,
    call = "wx.v3.payscore.serviceorder._out_order_no_.cancel:post{ out_order_no = ..., json = {...} }",
    params = { OUT_ORDER_NO },
    query = {},
    body = {
      APPID,
      { name = "service_id", type = "string", required = true, max = 32,
        conflict = "§11: the new 需确认 cancel page marks it optional; most sources require it -> required" },
      REASON,
    },
    rules = {},
    response = { status = 200, fields = {
      { name = "appid", type = "string", required = true },
      { name = "mchid", type = "string", required = true },
      { name = "out_order_no", type = "string", required = true },
      { name = "service_id", type = "string", required = true },
      { name = "order_id", type = "string", required = true },
    } },
  },
  {
    id = "E4", name = "modify", title = "修改订单金额 Modify amount (§3.4)",
    method = "POST", path = "/v3/payscore/serviceorder/{out_order_no}/modify", aliases = {}, mode = "both",
    success = 200,
    call = "wx.v3.payscore.serviceorder._out_order_no_.modify:post{ out_order_no = ..., json = {...} }",
    params = { OUT_ORDER_NO },
    query = {},
    body = {
      APPID, SERVICE_ID,
      { name = "post_payments", type = "array", items = "Payment", required = true, min_items = 1, max_items = 100,
        text = "replaces the completion items (§6.4: ≥ 1 on modify)" },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon", max_items = 30 },
      TOTAL_AMOUNT,
      REASON,
      DEVICE,
    },
    rules = { TOTAL_AMOUNT_SUM, UNIQUE_PAYMENT_NAMES, UNIQUE_DISCOUNT_NAMES, DISCOUNT_AMOUNT_WITH_NAME },
    response = { status = 200, fields = SERVICE_ORDER_ENTITY },
  },
  {
    id = "E5", name = "complete", title = "完结支付分订单 Complete (§3.5)",
    method = "POST", path = "/v3/payscore/serviceorder/{out_order_no}/complete", aliases = {}, mode = "both",
    success = 200,
    call = "wx.v3.payscore.serviceorder._out_order_no_.complete:post{ out_order_no = ..., json = {...} }",
    params = { OUT_ORDER_NO },
    query = {},
    body = {
      APPID, SERVICE_ID,
      { name = "post_payments", type = "array", items = "Payment", required = true, min_items = 1, max_items = 100,
        text = "replaces the create-time items (§6.4: ≥ 1 on complete)" },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon", max_items = 30 },
      TOTAL_AMOUNT,
      { name = "time_range", type = "object", object = "TimeRangeComplete",
        note = "conditional: end_time is required when create gave none (server rule)" },
      { name = "location", type = "object", object = "LocationComplete" },
      PROFIT_SHARING,
      GOODS_TAG,
      DEVICE,
      -- complete_time exists on the partner/acquiring variants only (§3.5): not a merchant field.
    },
    rules = { TOTAL_AMOUNT_SUM, UNIQUE_PAYMENT_NAMES, UNIQUE_DISCOUNT_NAMES, DISCOUNT_AMOUNT_WITH_NAME },
    response = { status = 200, fields = {
      { name = "appid", type = "string", required = true },
      { name = "mchid", type = "string", required = true },
      { name = "out_order_no", type = "string", required = true },
      { name = "service_id", type = "string", required = true },
      { name = "service_introduction", type = "string" },
      { name = "state", type = "string", required = true, enum = E.state },
      { name = "state_description", type = "string", enum = E.state_description },
      { name = "total_amount", type = "integer", unit = "fen" },
      { name = "post_payments", type = "array", items = "Payment" },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon" },
      { name = "risk_fund", type = "object", object = "RiskFund" },
      { name = "time_range", type = "object", object = "TimeRange" },
      { name = "location", type = "object", object = "Location" },
      { name = "order_id", type = "string" },
      { name = "need_collection", type = "boolean" },
    } },
  },
  {
    id = "E6", name = "pay", title = "商户发起催收扣款 Collect (§3.6)",
    method = "POST", path = "/v3/payscore/serviceorder/{out_order_no}/pay", aliases = {}, mode = "both",
    success = 200,
    call = "wx.v3.payscore.serviceorder._out_order_no_.pay:post{ out_order_no = ..., json = {...} }",
    params = { OUT_ORDER_NO },
    query = {},
    body = {
      { name = "appid", type = "string", required = true, max = 32,
        conflict = "§3.6/§11: required (new doc) vs optional (2020 doc, openapi) -> required" },
      { name = "service_id", type = "string", required = true, max = 32,
        conflict = "§3.6/§11: required (new doc) vs optional (2020 doc, openapi) -> required" },
    },
    rules = {},
    response = { status = 200, conflict = "§11: 200 + body for merchants (the partner variant answers 204)",
      fields = {
        { name = "appid", type = "string", required = true },
        { name = "mchid", type = "string" },
        { name = "out_order_no", type = "string", required = true },
        { name = "service_id", type = "string", required = true },
        { name = "order_id", type = "string", max = 128 },
      } },
  },
  {
    id = "E7", name = "sync", title = "同步服务订单信息 Sync (offline payment) (§3.7)",
    method = "POST", path = "/v3/payscore/serviceorder/{out_order_no}/sync", aliases = {}, mode = "both",
    success = 200,
    call = "wx.v3.payscore.serviceorder._out_order_no_.sync:post{ out_order_no = ..., json = {...} }",
    params = { OUT_ORDER_NO },
    query = {},
    body = {
      APPID, SERVICE_ID,
      { name = "type", type = "string", required = true, max = 32, enum = E.sync_type },
      { name = "detail", type = "object", object = "SyncDetail", required = "detail_when_order_paid" },
      -- WxJava's detail.seq / detail.paid_amount are in no official page (UNCERTAIN, ignored: warnings).
    },
    rules = {
      { id = "detail_when_order_paid", kind = "required_if", field = "detail",
        when = { field = "type", equals = "Order_Paid" },
        text = "§3.7: detail is required when type is Order_Paid" },
    },
    response = { status = 200, fields = SERVICE_ORDER_ENTITY },
  },
  {
    id = "E8", name = "direct_complete", title = "创单结单合并 Direct-complete (§3.8)",
    method = "POST", path = "/payscore/serviceorder/direct-complete",
    -- CONFLICT on path (§3.8/§11): official doc, Senparc, gopay, the Python SDK have no /v3; openapi and SKIT do ->
    -- the documented one is canonical, both are accepted.
    aliases = { "/v3/payscore/serviceorder/direct-complete" },
    mode = "no-confirm", success = 200,
    call = "wx.payscore.serviceorder.directComplete:post{ json = {...} }",
    params = {},
    query = {},
    body = {
      OUT_ORDER_NO, APPID,
      { name = "openid", type = "string", required = true, max = 128 },
      SERVICE_ID,
      { name = "service_introduction", type = "string", required = true, max = 20 },
      { name = "post_payments", type = "array", items = "Payment", required = true, min_items = 1, max_items = 100 },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon", max_items = 30,
        conflict = "§3.8/§11: 5 (new doc) vs 30 (Senparc/old) -> 30" },
      { name = "time_range", type = "object", object = "TimeRangeDirect", required = true },
      { name = "location", type = "object", object = "Location" },
      TOTAL_AMOUNT,
      PROFIT_SHARING,
      GOODS_TAG,
      ATTACH,
      { name = "notify_url", type = "string", required = "notify_url_when_collecting", max = 255,
        formats = { "notify_url" } },
    },
    rules = {
      TOTAL_AMOUNT_SUM,
      { id = "notify_url_when_collecting", kind = "required_if", field = "notify_url",
        when = { field = "total_amount", gt = 0 },
        text = "§3.8: notify_url is required when the order needs collection (total_amount > 0)" },
      UNIQUE_PAYMENT_NAMES, UNIQUE_DISCOUNT_NAMES, DISCOUNT_AMOUNT_WITH_NAME,
    },
    response = { status = 200, fields = {
      { name = "appid", type = "string", required = true },
      { name = "mchid", type = "string", required = true },
      { name = "out_order_no", type = "string", required = true },
      { name = "service_id", type = "string", required = true },
      { name = "order_id", type = "string" },
      { name = "service_introduction", type = "string" },
      { name = "state", type = "string", enum = E.state, note = "DOING or DONE" },
      { name = "state_description", type = "string", enum = E.state_description },
      { name = "post_payments", type = "array", items = "Payment" },
      { name = "post_discounts", type = "array", items = "ServiceOrderCoupon" },
      { name = "time_range", type = "object", object = "TimeRange" },
      { name = "location", type = "object", object = "Location" },
      { name = "attach", type = "string" },
      { name = "notify_url", type = "string" },
      { name = "total_amount", type = "integer", unit = "fen" },
    } },
  },
  {
    id = "E9", name = "apply_permissions", title = "商户预授权 Apply permissions (§3.9)",
    method = "POST", path = "/v3/payscore/permissions", aliases = {}, mode = "no-confirm", success = 200,
    call = "wx.v3.payscore.permissions:post{ json = {...} }",
    params = {},
    query = {},
    body = {
      SERVICE_ID, APPID, AUTH_CODE,
      { name = "notify_url", type = "string", max = 255, formats = { "notify_url" },
        text = "receives PAYSCORE.USER_OPEN_SERVICE / USER_CLOSE_SERVICE" },
    },
    rules = {},
    response = { status = 200, fields = {
      { name = "apply_permissions_token", type = "string", required = true, max = 300,
        text = "for the mini-program page wxpayScoreEnable, valid 1 hour" },
    } },
  },
  {
    id = "E10", name = "query_permissions_by_code", title = "查询用户授权记录(授权协议号) (§3.10)",
    method = "GET", path = "/v3/payscore/permissions/authorization-code/{authorization_code}", aliases = {},
    mode = "no-confirm", success = 200,
    call = "wx.v3.payscore.permissions.authorizationCode._authorization_code_:get{ authorization_code = ..., " ..
      "query = {...} }",
    params = { AUTH_CODE },
    query = { SERVICE_ID },
    body = nil,
    rules = {},
    response = { status = 200, fields = AUTHORIZATION_RECORD },
  },
  {
    id = "E11", name = "terminate_permissions_by_code", title = "解除用户授权关系(授权协议号) (§3.11)",
    method = "POST", path = "/v3/payscore/permissions/authorization-code/{authorization_code}/terminate",
    aliases = {}, mode = "no-confirm", success = 204,
    call = "wx.v3.payscore.permissions.authorizationCode._authorization_code_.terminate:post{ " ..
      "authorization_code = ..., json = {...} }",
    params = { AUTH_CODE },
    query = {},
    body = { SERVICE_ID, REASON },
    rules = {},
    response = { status = 204 },
  },
  {
    id = "E12", name = "query_permissions_by_openid", title = "查询用户授权记录(openid) (§3.12)",
    method = "GET", path = "/v3/payscore/permissions/openid/{openid}", aliases = {}, mode = "no-confirm",
    success = 200,
    call = "wx.v3.payscore.permissions.openid._openid_:get{ openid = ..., query = {...} }",
    params = { OPENID_PARAM },
    query = { APPID, SERVICE_ID },
    body = nil,
    rules = {},
    response = { status = 200, fields = AUTHORIZATION_RECORD },
  },
  {
    id = "E13", name = "terminate_permissions_by_openid", title = "解除用户授权关系(openid) (§3.13)",
    method = "POST", path = "/v3/payscore/permissions/openid/{openid}/terminate", aliases = {}, mode = "no-confirm",
    success = 204,
    call = "wx.v3.payscore.permissions.openid._openid_.terminate:post{ openid = ..., json = {...} }",
    params = { OPENID_PARAM },
    query = {},
    body = { SERVICE_ID, APPID, REASON },
    rules = {},
    response = { status = 204 },
  },
  {
    id = "E14", name = "user_service_state", title = "查询用户授权状态 (legacy, 2019) (§3.14)",
    -- CONFLICT on path (§3.14/§11): the doc header has /v3, its request example has none -> /v3 canonical, both
    -- accepted.
    method = "GET", path = "/v3/payscore/user-service-state", aliases = { "/payscore/user-service-state" },
    mode = "legacy", success = 200,
    call = "wx.v3.payscore.userServiceState:get{ query = {...} }",
    params = {},
    query = { SERVICE_ID, APPID, { name = "openid", type = "string", required = true, max = 128 } },
    body = nil,
    rules = {},
    response = { status = 200, fields = {
      { name = "appid", type = "string" },
      { name = "service_id", type = "string" },
      { name = "openid", type = "string" },
      { name = "use_service_state", type = "string", required = true, enum = E.use_service_state },
    } },
  },
  {
    id = "E15", name = "terminate_user_permissions", title = "商户解除用户授权关系 (legacy, 2020) (§3.15)",
    -- CONFLICT on path (§3.15/§11): the 2020 doc has no /v3, the openapi type map has -> the documented one is
    -- canonical, both accepted.
    method = "POST", path = "/payscore/users/{openid}/permissions/{service_id}/terminate",
    aliases = { "/v3/payscore/users/{openid}/permissions/{service_id}/terminate" },
    mode = "legacy", success = 204,
    call = "wx.payscore.users._openid_.permissions._service_id_.terminate:post{ openid = ..., service_id = ..., " ..
      "json = {...} }",
    params = { OPENID_PARAM, { name = "service_id", type = "string", required = true, max = 32 } },
    query = {},
    body = { APPID, REASON },
    rules = {},
    response = { status = 204 },
  },
}

-- Index by id.
schema.by_id = {}
for _, ep in ipairs(schema.endpoints) do schema.by_id[ep.id] = ep end

-- Rules that need server state or a clock: the sandbox's (documentation; not checked by validate.lua).
schema.server_rules = {
  { id = "start_time_not_past", endpoints = { "E1" },
    text = "§2.3: second precision: start_time > create-call time; day precision: start_time ≥ call date" },
  { id = "end_time_after_call", endpoints = { "E1" }, text = "§2.3: second precision: end_time > call time + 1 min" },
  { id = "complete_end_time", endpoints = { "E5" },
    text = "§2.3/§3.5: end_time required if create gave none; complete-call time ≥ end_time > start_time; same " ..
      "format as first passed; OnAccept at create implies second precision" },
  { id = "direct_complete_times", endpoints = { "E8" }, text = "§3.8: start_time < call time; end_time ≤ call time" },
  { id = "paid_time_window", endpoints = { "E7" },
    text = "§3.7: service start < complete-call time < paid_time ≤ sync-call time" },
  { id = "risk_cap", endpoints = { "E1", "E5", "E4", "E8" },
    text = "§6.3: risk_fund.amount ≤ service cap; 先免: total ≤ create risk_fund.amount; 先享: total ≤ cap" },
  { id = "appid_matches_create", endpoints = { "E3", "E4", "E5", "E6", "E7" }, text = "§6.10" },
  { id = "reentry", endpoints = { "E1", "E3" },
    text = "§6.11: identical repeats succeed; different params for the same out_order_no -> INVALID_REQUEST" },
  { id = "end_location_needs_create_start", endpoints = { "E5" },
    text = "§2.4: end_location at complete requires a create-time start_location" },
  { id = "modify_downward", endpoints = { "E4" }, text = "§3.4: strictly decreasing, ≤ the completion total" },
  { id = "state_matrix", endpoints = { "E3", "E4", "E5", "E6", "E7" }, text = "§5.3 operation-permission matrix" },
}

return schema
