"""Local API sandbox: ShipStation v1, Shopify Admin GraphQL, Amazon LWA + SP-API Orders v0,
Amazon Custom zips and OpenAI chat completions, served by one HTTP server on loopback.

    with SandboxServer(SandboxOptions(seed=7, days=21, end_date=date(2026, 3, 20)), port=0) as sb:
        os.environ.update(sb.env())      # every source and OpenAI now point at sb.base_url
        sb.advance_clock(3600)           # simulated time; orders change as it moves
        sb.set_faults("shipstation", "429", count=3)
        sb.truth()                       # intended personalisations per order item

Routes (all under one base URL):
* /shipstation/...                     ShipStation v1 (Basic auth, Pacific wall-clock dates)
* /shopify/admin/api/{version}/graphql.json   Shopify Admin GraphQL (X-Shopify-Access-Token)
* /amazon/auth/o2/token, /amazon/orders/v0/...   LWA and SP-API Orders v0 (x-amz-access-token)
* /amazon-custom/<AmazonOrderId>_<OrderItemId>.zip   Amazon Custom customisation zips
* /openai/v1/chat/completions, /openai/v1/responses  OpenAI (Bearer auth)
* /_sandbox/{health,faults,clock,config,reset,stats,truth,orders/<orderId>/mutate}   control

Identifier conventions across APIs are described in data.py; fault kinds in faults.py.
"""

from y3d_pipeline.sandbox.options import FaultSpec, SandboxOptions

__all__ = ["FaultSpec", "SandboxOptions"]
