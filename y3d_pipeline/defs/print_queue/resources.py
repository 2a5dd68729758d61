"""The OpenAI resource. Without OPENAI_API_KEY the AI is simply "not configured": items that need it get
placeholder tasks flagged for review, and nothing crashes."""

from __future__ import annotations

import dagster as dg
import openai

from y3d_pipeline.defs.resources import env_var_if_set
from y3d_pipeline.personalization.ai import PersonalizationExtractor
from y3d_pipeline.settings import load_settings


class OpenAIResource(dg.ConfigurableResource):
    """OpenAI chat completions through the official SDK (base_url points it at a proxy or the sandbox)."""

    api_key: str | None = None
    base_url: str | None = None
    model: str = "gpt-4.1-mini"
    timeout_seconds: float = 60.0
    max_attempts: int = 4
    max_wait_seconds: float = 30.0

    @property
    def configured(self) -> bool:
        return bool(self.api_key and self.api_key.strip())

    def extractor(self) -> PersonalizationExtractor | None:
        if not self.configured:
            return None
        # SDK retries off: PersonalizationExtractor retries itself, honouring retry-after, and counts it.
        client = openai.OpenAI(api_key=self.api_key, base_url=self.base_url or None,
                               timeout=self.timeout_seconds, max_retries=0)
        return PersonalizationExtractor(client, self.model, max_attempts=self.max_attempts,
                                        max_wait_seconds=self.max_wait_seconds)


def openai_resource_from_env() -> OpenAIResource:
    return OpenAIResource(
        api_key=env_var_if_set("OPENAI_API_KEY"),
        base_url=env_var_if_set("OPENAI_BASE_URL"),
        model=load_settings().Y3D_OPENAI_MODEL,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(resources={"openai": openai_resource_from_env()})
