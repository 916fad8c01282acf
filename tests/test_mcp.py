"""`python app.py --mcp`: every tab's API is also an MCP tool, callable by an MCP client.

The suite is launched with Gradio's MCP server on and driven by the `mcp` package's own
client over streamable HTTP, as an assistant's tool runner would.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import served

# Tool names are the handlers' names; one per public endpoint of the suite.
TOOLS = {"detect_endpoint", "anatomy_endpoint", "translate_endpoint", "pose_endpoint",
         "optimize", "step_view", "best_learning_rates", "batch_modes_run", "roi_endpoint", "detector_limits",
         "convolution_endpoint", "compress_endpoint", "models_json"}


@pytest.fixture(scope="module")
def mcp_url():
    with served(mcp_server=True) as url:
        yield url


def test_schema_lists_one_tool_per_endpoint_with_described_parameters(mcp_url):
    schema = httpx.get(mcp_url + "gradio_api/mcp/schema", timeout=30).json()
    tools = {tool["name"]: tool for tool in schema}
    assert set(tools) == TOOLS
    detect = tools["detect_endpoint"]
    assert {"image", "models", "score_threshold"} <= set(detect["inputSchema"]["properties"])
    assert detect["description"]  # the handler's docstring tells the caller what it does


def test_an_mcp_client_calls_a_tool(mcp_url):
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
    assert set(listed) == TOOLS
    # the registry comes back as text: every bundled model, with its tier
    assert "tiny-retinanet-focal" in text and "bundled" in text and "pose" in text
