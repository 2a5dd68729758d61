"""Local API sandbox: ShipStation v1, Shopify Admin GraphQL, Amazon LWA + SP-API Orders v0,
Amazon Custom zips and OpenAI chat completions served by one HTTP server on loopback."""

from y3d_pipeline.sandbox.options import SandboxOptions

__all__ = ["SandboxOptions"]
