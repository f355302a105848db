"""Protocol-faithful local servers standing in for real providers, for tests and for
rehearsing a policy: ``openai_server`` speaks OpenAI's Chat Completions streaming API."""
