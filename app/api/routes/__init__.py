from app.api.routes import agents, conversations, messages, stream

routers = [agents.router, conversations.router, messages.router, stream.router]
