"""Parsers backed by a chat model: one shared `prompt` and answer validation, a local
`transformers_parser` and an OpenAI-compatible `openai_parser`."""
