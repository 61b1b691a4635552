"""The one public entry: routing, authentication, authorisation, rate limits."""
