"""The api service: agents, conversations and messages, with real-time streams and message events."""
