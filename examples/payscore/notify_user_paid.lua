-- PAYSCORE.USER_PAID (payscore.md §8.5): the collection of a completed order succeeded (T9); the resource is the
-- whole order, DONE, collection USER_PAID with the deduction's transaction_id.
-- The notify_url is the examples' receiver (examples/payscore/receiver/: a small nginx whose handler is
-- wechatpay.openresty.handle_notification): it verifies the notification's signature, decrypts its resource with
-- the APIv3 key, records the event and answers 204; this script prints what it received.
--
--   lua5.4 examples/payscore/notify_user_paid.lua [build/sandbox/config.json]
package.path = (arg[0]:match("^(.*)[/\\]") or ".") .. "/?.lua;" .. package.path
local common = require "common"

common.main(function()
  local receiver = common.receiver()
  local out_order_no = common.setup_order{ upto = "completed", notify_url = receiver.url }

  -- what WeChat Pay does: the automatic deduction succeeds (a sandbox control endpoint)
  common.control("POST", "payscore/orders/" .. out_order_no .. "/pay", {})
  common.step("WeChat Pay collected the order; waiting for the notification")

  local event = receiver.wait("PAYSCORE.USER_PAID", function(ev) return ev.resource.out_order_no == out_order_no end)
  common.show_event(event)
  local c = event.resource.collection
  common.expect(event.resource.state == "DONE" and c and c.state == "USER_PAID" and c.paid_amount == 39900,
    "collection")
end)
