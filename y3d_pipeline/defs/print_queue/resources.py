"""The OpenAI resource. Without OPENAI_API_KEY the AI is simply "not configured": items that need it get
placeholder tasks flagged for review, and nothing crashes."""

from __future__ import annotations

import dagster as dg
import httpx2  # the openai SDK's HTTP library
import openai
from pydantic import Field

from y3d_pipeline.defs.resources import EnvironmentBound, env_var_if_set
from y3d_pipeline.print_queue.ai import PersonalizationExtractor
from y3d_pipeline.redaction import register_secret
from y3d_pipeline.settings import load_settings
from y3d_pipeline.sources.http import ScrubbingTransport


class OpenAIConnection(EnvironmentBound):
    """OPENAI_API_KEY, OPENAI_BASE_URL (a proxy or the sandbox) and Y3D_OPENAI_MODEL (what is spent per call):
    never run config."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4.1-mini"

    @classmethod
    def from_env(cls) -> OpenAIConnection:
        return cls(api_key=env_var_if_set("OPENAI_API_KEY"), base_url=env_var_if_set("OPENAI_BASE_URL"),
                   model=load_settings().Y3D_OPENAI_MODEL)


class OpenAIResource(dg.ConfigurableResource):
    """OpenAI chat completions through the official SDK. Only the retry knobs are run config."""

    connection: OpenAIConnection
    timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    max_attempts: int = Field(default=4, ge=1, le=10)
    max_wait_seconds: float = Field(default=30.0, ge=0, le=600)

    @property
    def configured(self) -> bool:
        return bool(self.connection.api_key and self.connection.api_key.strip())

    @property
    def model(self) -> str:
        return self.connection.model

    def extractor(self) -> PersonalizationExtractor | None:
        if not self.configured:
            return None
        register_secret(self.connection.api_key)
        # SDK retries off: PersonalizationExtractor retries itself, honouring retry-after, and counts it.
        # The SDK puts error bodies into its exception texts: the transport scrubs them of secrets first.
        client = openai.OpenAI(api_key=self.connection.api_key, base_url=self.connection.base_url or None,
                               timeout=self.timeout_seconds, max_retries=0,
                               http_client=openai.DefaultHttpxClient(
                                   transport=ScrubbingTransport(httpx2.HTTPTransport())))
        return PersonalizationExtractor(client, self.model, max_attempts=self.max_attempts,
                                        max_wait_seconds=self.max_wait_seconds)


def openai_resource_from_env() -> OpenAIResource:
    return OpenAIResource(connection=OpenAIConnection.from_env())


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"openai": openai_resource_from_env()})
