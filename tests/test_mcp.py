"""`python app.py --mcp`: every tab's API is also an MCP tool, callable by an MCP client.

The suite is launched with Gradio's MCP server on and driven by the `mcp` package's own
client over streamable HTTP, as an assistant's tool runner would.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

import app
from tests.conftest import public_endpoints, served


@pytest.fixture(scope="module")
def tools() -> set[str]:
    """The tools the suite must offer: one per public endpoint, named after its handler, taken
    from the app itself, so a new tab's endpoints are expected without editing this file."""
    return {handler.__name__ for handler in public_endpoints(app.build_app()).values()}


@pytest.fixture(scope="module")
def mcp_url():
    with served(mcp_server=True) as url:
        yield url


def test_schema_lists_one_tool_per_endpoint_with_described_parameters(mcp_url, tools):
    schema = httpx.get(mcp_url + "gradio_api/mcp/schema", timeout=30).json()
    api = httpx.get(mcp_url + "gradio_api/info", timeout=30).json()["named_endpoints"]
    assert sorted("/" + tool["meta"]["endpoint_name"].lstrip("/") for tool in schema) == sorted(api)
    tools_served = {tool["name"]: tool for tool in schema}
    assert set(tools_served) == tools
    assert len(tools) > len(app.DEMOS)  # every tab has at least one (tests/test_architecture.py)
    detect = tools_served["detect_endpoint"]
    assert {"image", "models", "score_threshold"} <= set(detect["inputSchema"]["properties"])
    assert detect["description"]  # the handler's docstring tells the caller what it does


def test_an_mcp_client_calls_a_tool(mcp_url, tools):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def call() -> tuple[list[str], str]:
        async with streamablehttp_client(mcp_url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                listed = [tool.name for tool in (await session.list_tools()).tools]
                result = await session.call_tool("models_json", {})
                return listed, "".join(getattr(part, "text", "") for part in result.content)

    listed, text = asyncio.run(asyncio.wait_for(call(), timeout=120))
    assert set(listed) == tools
    # the registry comes back as text: every bundled model, with its tier
    assert "tiny-retinanet-focal" in text and "bundled" in text and "pose" in text
